"""Submissions are rate-limited per client and per area, and look-ups by reference per client,
with a clear 429 and Retry-After."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from safer_streets.accounts import users
from safer_streets.intake.submission import new_reference
from safer_streets.models import Role
from safer_streets.web.clients import address_bucket
from tests.helpers import PASSWORD, PASSWORDS, login

REPORT = {"category": "fly-tipping", "lat": 51.4452, "lon": -0.0207, "description": "Sofa"}


@pytest.fixture
def limited_client(app_with, redis_client):
    app = app_with(submission_rate_limit="2 per hour", area_rate_limit="3 per hour")
    redis_client.flushdb()
    yield app.test_client()
    redis_client.flushdb()


def test_one_address_sending_too_many_form_reports_is_told_to_wait(limited_client):
    form = {**REPORT, "when": "now"}
    codes = [
        limited_client.post(
            "/report", data=form, environ_base={"REMOTE_ADDR": "10.0.0.1"}
        ).status_code
        for _ in range(2)
    ]
    assert 429 not in codes
    refused = limited_client.post("/report", data=form, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_one_area_flooded_from_many_addresses_is_slowed_for_every_channel(limited_client):
    for n in range(3):
        response = limited_client.post(
            "/api/v1/reports", json=REPORT, environ_base={"REMOTE_ADDR": f"10.0.1.{n}"}
        )
        assert response.status_code == 201
    refused = limited_client.post(
        "/api/v1/reports", json=REPORT, environ_base={"REMOTE_ADDR": "10.0.2.1"}
    )
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"]
    elsewhere = limited_client.post(
        "/api/v1/reports",
        json={**REPORT, "lat": 51.4300, "lon": -0.0200},
        environ_base={"REMOTE_ADDR": "10.0.2.1"},
    )
    assert elsewhere.status_code == 201


# ---- Look-ups by reference -------------------------------------------------------------------


@pytest.fixture
def lookup_limited(app_with, redis_client):
    app = app_with(lookup_rate_limit="5 per minute")
    redis_client.flushdb()
    yield app
    redis_client.flushdb()


def guesses(count: int) -> list[str]:
    """References as a guesser makes them up (none will be the one report these tests make)."""
    return [new_reference() for _ in range(count)]


def test_guessing_references_is_slowed_per_address_on_every_surface(
    lookup_limited, db_session, routed_report
):
    real = routed_report(db_session).reference
    client = lookup_limited.test_client()
    guesser = {"REMOTE_ADDR": "10.40.0.1"}
    surfaces = ["/track/{}", "/api/v1/reports/{}", "/open311/v2/requests/{}.json"]
    # One allowance for all of them: five guesses, wherever they are made.
    answers = [
        client.get(surfaces[n % 3].format(guess), environ_base=guesser)
        for n, guess in enumerate(guesses(5))
    ]
    assert {a.status_code for a in answers} == {404}
    for surface in surfaces:
        refused = client.get(surface.format(real), environ_base=guesser)
        assert refused.status_code == 429, surface
        assert int(refused.headers["Retry-After"]) > 0
        assert real not in refused.text
    assert client.get(f"/open311/v2/requests/{real}.xml", environ_base=guesser).mimetype == (
        "text/xml"
    )
    # A resident elsewhere is not held up.
    assert (
        client.get(f"/track/{real}", environ_base={"REMOTE_ADDR": "10.40.0.2"}).status_code == 200
    )


def test_an_ipv6_guesser_cannot_spread_over_its_own_network(lookup_limited):
    client = lookup_limited.test_client()
    codes = [
        client.get(f"/track/{guess}", environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n + 1:x}"})
        for n, guess in enumerate(guesses(6))
    ]
    assert [c.status_code for c in codes] == [404] * 5 + [429]
    other_network = {"REMOTE_ADDR": "2001:db8:1:3::1"}
    assert client.get("/track/LEW-AAAAA", environ_base=other_network).status_code == 404


def test_signed_in_staff_are_not_counted(lookup_limited, db_session, routed_report):
    real = routed_report(db_session).reference
    user = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="officer@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="met-snt-rushey-green",
    )
    staff = lookup_limited.test_client()
    login(staff, user.email)
    office = {"REMOTE_ADDR": "10.40.1.1"}
    assert {staff.get(f"/track/{real}", environ_base=office).status_code for _ in range(8)} == {200}
    resident = lookup_limited.test_client()
    codes = [resident.get(f"/track/{real}", environ_base=office).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


def test_a_browser_following_its_own_report_is_not_counted(lookup_limited):
    browser = lookup_limited.test_client()
    home = {"REMOTE_ADDR": "10.40.2.1"}
    sent = browser.post("/report", data={**REPORT, "when": "now"}, environ_base=home)
    assert sent.status_code == 303
    reference = sent.headers["Location"].rsplit("/", 2)[-2]
    # The confirmation page and its polling of the API, for as long as routing takes.
    assert browser.get(f"/report/{reference}/sent", environ_base=home).status_code == 200
    polls = [browser.get(f"/api/v1/reports/{reference}", environ_base=home) for _ in range(30)]
    assert {p.status_code for p in polls} == {200}
    # Anyone else at that address asking for it is counted.
    other = lookup_limited.test_client()
    codes = [other.get(f"/track/{reference}", environ_base=home).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


# ---- How addresses are counted --------------------------------------------------------------


ipv6_networks = st.integers(min_value=0, max_value=2**64 - 1)
hosts = st.integers(min_value=0, max_value=2**64 - 1)


@given(network=ipv6_networks, one=hosts, other=hosts)
def test_ipv6_addresses_count_by_their_64_network(network, one, other):
    first = ipaddress.IPv6Address((network << 64) | one)
    second = ipaddress.IPv6Address((network << 64) | other)
    assume(first.ipv4_mapped is None)
    assert address_bucket(str(first)) == address_bucket(str(second))
    assert address_bucket(str(first)).endswith("/64")
    neighbour = ipaddress.IPv6Address((((network + 1) % 2**64) << 64) | one)
    assume(neighbour.ipv4_mapped is None)
    assert address_bucket(str(neighbour)) != address_bucket(str(first))


@given(address=st.ip_addresses(v=4))
def test_ipv4_addresses_count_as_they_are_also_when_mapped_to_ipv6(address):
    assert address_bucket(str(address)) == str(address)
    assert address_bucket(f"::ffff:{address}") == str(address)


@given(text=st.text(max_size=60))
def test_anything_else_is_counted_as_it_is(text):
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        assert address_bucket(text) == text


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(app_with, redis_client):
    app = app_with(submission_rate_limit="1 per hour", trusted_proxies=1)
    redis_client.flushdb()
    proxied = app.test_client()
    form = {**REPORT, "when": "now"}
    proxy = {"REMOTE_ADDR": "10.9.9.9"}

    def post(client_address: str) -> int:
        headers = {"X-Forwarded-For": client_address}
        return proxied.post("/report", data=form, headers=headers, environ_base=proxy).status_code

    assert post("203.0.113.1") != 429
    assert post("203.0.113.1") == 429
    assert post("203.0.113.2") != 429
    redis_client.flushdb()


def test_without_a_trusted_proxy_a_forged_forwarded_address_escapes_no_limit(
    app_with, redis_client
):
    app = app_with(submission_rate_limit="1 per hour")
    redis_client.flushdb()
    direct = app.test_client()
    form = {**REPORT, "when": "now"}
    here = {"REMOTE_ADDR": "10.9.9.8"}
    first = direct.post(
        "/report", data=form, headers={"X-Forwarded-For": "1.1.1.1"}, environ_base=here
    )
    forged = direct.post(
        "/report", data=form, headers={"X-Forwarded-For": "2.2.2.2"}, environ_base=here
    )
    assert first.status_code != 429
    assert forged.status_code == 429
    redis_client.flushdb()
