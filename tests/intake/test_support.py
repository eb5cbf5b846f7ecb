"""Support (+1) is one voice per person: a flood of new Idempotency-Keys, forms or cookie-less
requests cannot pile supporters onto a report and move it up a partner's queue."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.api import keys
from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.models import ReportSupport, Role
from tests.conftest import CATFORD_BROADWAY
from tests.helpers import PASSWORD, PASSWORDS, login

OWNER = "met-snt-rushey-green"
HERE = {"REMOTE_ADDR": "10.30.0.1"}


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


def test_thirty_posts_from_one_address_with_fresh_keys_and_no_cookies_count_once(
    app, db_session, routed_report
):
    """Finding 4 of the disclosure issue: a new Idempotency-Key each time, from a client that
    keeps no cookie, added thirty supporters in a row."""
    reference = routed_report(db_session, category="fly-tipping").reference
    answers = [support(app.test_client(), reference) for _ in range(30)]
    assert answers[0].status_code == 201 and answers[0].get_json()["counted"] is True
    assert {a.status_code for a in answers[1:]} == {200}
    assert answers[-1].get_json()["supporter_count"] == 1
    neighbour = support(app.test_client(), reference, address={"REMOTE_ADDR": "10.30.0.2"})
    assert neighbour.status_code == 201 and neighbour.get_json()["supporter_count"] == 2


def test_the_supporters_address_is_never_stored(app, db_session, routed_report):
    report = routed_report(db_session, category="fly-tipping")
    assert support(app.test_client(), report.reference).status_code == 201
    stored = db_session.scalars(
        select(ReportSupport.key_hash).where(ReportSupport.report_id == report.id)
    ).all()
    assert stored and not any("10.30.0.1" in row for row in stored)
    plain = hashlib.sha256(f"{report.id}:10.30.0.1".encode()).hexdigest()
    assert plain not in stored


def test_the_resident_form_and_the_api_count_once_per_address(app, db_session, routed_report):
    reference = routed_report(db_session, category="fly-tipping").reference
    browser = app.test_client()

    def send(client):
        form = {"reference": reference, "submission_id": str(uuid.uuid4()), "details": "shown"}
        return client.post("/report/support", data=form, environ_base=HERE)

    assert [send(browser).status_code for _ in range(10)] == [303] * 10
    assert send(app.test_client()).status_code == 303  # another browser, same address
    # The JSON API is no way round: the form and the API share the one voice per address.
    assert support(app.test_client(), reference).get_json()["counted"] is False
    page = browser.get(f"/report/{reference}/supported").text
    assert "1 person has added their voice" in page


def test_an_api_client_supports_a_report_once_whatever_keys_it_sends(
    app, db_session, routed_report
):
    reference = routed_report(db_session, category="fly-tipping").reference
    app_key = keys.create_client(db_session, name="Civic app", partner_slug=None, actor=None).key
    answers = [support(app.test_client(), reference, **{"X-Api-Key": app_key}) for _ in range(5)]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200]
    assert answers[-1].get_json() == {
        "reference": reference,
        "supporter_count": 1,
        "counted": False,
    }
    # A key that does not verify is refused.
    made_up = support(app.test_client(), reference, **{"X-Api-Key": "ssk_0_x"})
    assert made_up.status_code == 403


@pytest.mark.parametrize("category", ["harassment", "weapons"])
def test_a_sensitive_report_cannot_be_supported_nor_found(
    client, db_session, routed_report, category
):
    """A harassment or weapons reference answers as an unknown one does, so a +1 cannot be
    used to learn that such a report exists, and its count never moves."""
    report = routed_report(db_session, category=category)
    response = support(client, report.reference)
    unknown = support(client, "LEW-ZZZZZ")
    assert response.status_code == unknown.status_code == 404
    form = client.post("/report/support", data={"reference": report.reference})
    assert form.status_code == 404
    db_session.refresh(report)
    assert report.supporter_count == 0


def test_a_flood_cannot_move_a_report_up_the_queue(app, db_session, routed_report):
    genuine = routed_report(db_session, description="Dealing by the station")
    target = routed_report(db_session, description="Dealing by the shops")
    # Four neighbours, four browsers, four addresses: four voices.
    for n in range(4):
        assert (
            support(
                app.test_client(),
                genuine.reference,
                address={"REMOTE_ADDR": f"10.31.0.{n}"},
            ).status_code
            == 201
        )
    # One attacker: thirty requests with cookies, thirty without, all from one address.
    attacker = app.test_client()
    flood = [support(attacker, target.reference) for _ in range(30)]
    flood += [support(app.test_client(), target.reference) for _ in range(30)]
    assert sum(a.status_code == 201 for a in flood) == 1

    sergeant = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="sgt@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=OWNER,
    )
    staff = app.test_client()
    login(staff, sergeant.email)
    queue = staff.get("/triage?sort=supporters").text
    order = re.findall(r">(LEW-[2-9A-Z]{5})</a>", queue)
    assert order.index(genuine.reference) < order.index(target.reference)


def test_similar_safety_reports_are_offered_at_their_street_point_only(
    client, db_session, routed_report
):
    """Asking for similar reports at any point learns no more of a drug-dealing report than the
    public map shows: its police.uk street point and its day, never its spot."""
    report = routed_report(db_session, category="drug-dealing")
    shown = disclose(report, Audience.PUBLIC)
    place = shown.place
    here = {"category": "drug-dealing", "lat": str(CATFORD_BROADWAY[0])}

    def offered(lon: float) -> list[dict]:
        query = {**here, "lon": str(lon)}
        return client.get("/api/v1/similar-reports", query_string=query).get_json()["reports"]

    (found,) = offered(CATFORD_BROADWAY[1])
    assert found["street"] == place.label and found["street"].startswith("On or near ")
    assert datetime.fromisoformat(found["created_at"]) == shown.created.value
    assert found["created_at"].endswith("T00:00:00+00:00")
    # A few metres away is the same public point, so the same report, its distance measured to
    # that point: probing cannot survey where it was made.
    (again,) = offered(CATFORD_BROADWAY[1] + 0.00003)

    def placeless(row: dict) -> dict:
        return {**row, "distance_m": None, "words": {**row["words"], "distance": None}}

    assert placeless(again) == placeless(found)
