"""Support (+1) is one voice per person: a flood of new Idempotency-Keys, forms or cookie-less
requests cannot pile supporters onto a report and move it up a partner's queue."""

from __future__ import annotations

import re
import uuid

import pytest

from safer_streets.accounts import users
from safer_streets.api import keys
from safer_streets.models import Role
from tests.helpers import PASSWORD, PASSWORDS, login

OWNER = "met-snt-rushey-green"
HERE = {"REMOTE_ADDR": "10.30.0.1"}


@pytest.fixture
def limited_app(app_with, redis_client):
    """An app allowing two +1s per address and report, on empty counters."""
    app = app_with(support_rate_limit="2 per day")
    redis_client.flushdb()
    yield app
    redis_client.flushdb()


def support(client, reference, *, address=HERE, **headers):
    return client.post(
        f"/api/v1/reports/{reference}/support",
        headers={"Idempotency-Key": str(uuid.uuid4()), **headers},
        environ_base=address,
    )


def test_thirty_new_idempotency_keys_from_one_browser_add_one_supporter(
    client, db_session, routed_report
):
    reference = routed_report(db_session, category="fly-tipping").reference
    answers = [support(client, reference) for _ in range(30)]
    assert answers[0].status_code == 201 and answers[0].get_json()["counted"] is True
    assert {a.status_code for a in answers[1:]} == {200}
    assert all(a.get_json()["supporter_count"] == 1 for a in answers)
    assert all(a.headers["Idempotent-Replayed"] == "true" for a in answers[1:])


def test_a_cookieless_flood_is_held_to_the_per_address_limit(
    limited_app, db_session, routed_report
):
    reference = routed_report(db_session, category="fly-tipping").reference
    # Every request from a fresh client: no cookie, a new Idempotency-Key each time.
    answers = [support(limited_app.test_client(), reference) for _ in range(30)]
    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert {a.status_code for a in answers[2:]} == {429}
    assert answers[2].mimetype == "application/problem+json"
    assert int(answers[2].headers["Retry-After"]) > 0
    neighbour = support(limited_app.test_client(), reference, address={"REMOTE_ADDR": "10.30.0.2"})
    assert neighbour.status_code == 201 and neighbour.get_json()["supporter_count"] == 3


def test_the_resident_form_counts_once_per_browser_and_a_few_times_per_address(
    limited_app, db_session, routed_report
):
    reference = routed_report(db_session, category="fly-tipping").reference
    browser = limited_app.test_client()

    def send(client):
        form = {"reference": reference, "submission_id": str(uuid.uuid4())}
        return client.post("/report/support", data=form, environ_base=HERE)

    assert [send(browser).status_code for _ in range(10)] == [303] * 10
    assert send(limited_app.test_client()).status_code == 303  # another browser, same address
    refused = send(limited_app.test_client())
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    # The JSON API is no way round: the form and the API share the allowance.
    assert support(limited_app.test_client(), reference).status_code == 429
    page = browser.get(f"/report/{reference}/supported").text
    assert "2 people have added their voice" in page


def test_an_api_client_supports_a_report_once_whatever_keys_it_sends(
    limited_app, db_session, routed_report
):
    reference = routed_report(db_session, category="fly-tipping").reference
    app_key = keys.create_client(db_session, name="Civic app", partner_slug=None, actor=None).key
    answers = [
        support(limited_app.test_client(), reference, **{"X-Api-Key": app_key}) for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200]
    assert answers[-1].get_json() == {
        "reference": reference,
        "supporter_count": 1,
        "counted": False,
    }
    # Counted by its key, not its address: the address's own allowance is untouched.
    assert [support(limited_app.test_client(), reference).status_code for _ in range(3)] == [
        201,
        201,
        429,
    ]
    # A key that does not verify is no key: it counts against its address, and is refused.
    made_up = support(limited_app.test_client(), reference, **{"X-Api-Key": "ssk_0_x"})
    assert made_up.status_code == 429
    elsewhere = {"REMOTE_ADDR": "10.30.0.3"}
    made_up = support(
        limited_app.test_client(), reference, address=elsewhere, **{"X-Api-Key": "ssk_0_x"}
    )
    assert made_up.status_code == 403


@pytest.mark.parametrize("category", ["harassment", "weapons"])
def test_a_sensitive_report_cannot_be_supported(client, db_session, routed_report, category):
    report = routed_report(db_session, category=category)
    response = support(client, report.reference)
    assert response.status_code == 409
    assert "cannot be supported" in response.get_json()["detail"]
    form = client.post("/report/support", data={"reference": report.reference})
    assert form.status_code == 409
    db_session.refresh(report)
    assert report.supporter_count == 0


def test_a_flood_cannot_move_a_report_up_the_queue(limited_app, db_session, routed_report):
    genuine = routed_report(db_session, description="Dealing by the station")
    target = routed_report(db_session, description="Dealing by the shops")
    # Four neighbours, four browsers, four addresses: four voices.
    for n in range(4):
        assert (
            support(
                limited_app.test_client(),
                genuine.reference,
                address={"REMOTE_ADDR": f"10.31.0.{n}"},
            ).status_code
            == 201
        )
    # One attacker: thirty requests with cookies, thirty without, all from one address.
    attacker = limited_app.test_client()
    flood = [support(attacker, target.reference) for _ in range(30)]
    flood += [support(limited_app.test_client(), target.reference) for _ in range(30)]
    assert sum(a.status_code == 201 for a in flood) == 2

    sergeant = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="sgt@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=OWNER,
    )
    staff = limited_app.test_client()
    login(staff, sergeant.email)
    queue = staff.get("/triage?sort=supporters").text
    order = re.findall(r">(LEW-[2-9A-Z]{5})</a>", queue)
    assert order.index(genuine.reference) < order.index(target.reference)
