"""API keys decide limits only once they verify: a made-up key is refused, not given an
allowance of its own, on the JSON API and Open311 alike."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safer_streets.api import keys
from safer_streets.web.app import create_app
from tests.open311.conftest import validate_json

ATTACKER = {"REMOTE_ADDR": "10.20.0.1"}
WELL_FORMED_KEY = r"\Assk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}\Z"


def made_up_key() -> str:
    """A key with the right shape that nobody issued."""
    return f"ssk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


@pytest.fixture
def limited(app_with, redis_client):
    """A test client of an app with the given limits, on empty counters."""

    def make(**limits: str):
        client = app_with(**limits).test_client()
        redis_client.flushdb()
        return client

    yield make
    redis_client.flushdb()


@pytest.fixture
def reference(db_session, routed_report) -> str:
    return routed_report(db_session).reference


def issue(db_session, name: str = "Civic app") -> keys.IssuedKey:
    return keys.create_client(db_session, name=name, partner_slug=None, actor=None)


def test_made_up_keys_are_refused_and_share_their_address_allowance(limited, db_session, reference):
    client = limited(api_read_rate_limit="3 per minute")
    url = f"/api/v1/reports/{reference}"
    for _ in range(3):
        refused = client.get(url, headers={"X-Api-Key": made_up_key()}, environ_base=ATTACKER)
        assert refused.status_code == 403
        assert refused.mimetype == "application/problem+json"
        assert refused.get_json()["detail"] == "api_key is not valid"
        assert reference not in refused.text
    # A fourth made-up key gets no fresh allowance: the address has used its own.
    fourth = client.get(url, headers={"X-Api-Key": made_up_key()}, environ_base=ATTACKER)
    assert fourth.status_code == 429 and int(fourth.headers["Retry-After"]) > 0
    assert client.get(url, environ_base=ATTACKER).status_code == 429
    # A key that verifies counts against itself, wherever it comes from.
    issued = issue(db_session)
    own = client.get(url, headers={"X-Api-Key": issued.key}, environ_base=ATTACKER)
    assert own.status_code == 200 and own.get_json()["reference"] == reference


def test_open311_made_up_keys_share_their_address_allowance(limited, reference):
    client = limited(api_read_rate_limit="2 per minute")
    url = f"/open311/v2/requests/{reference}.json"
    for _ in range(2):
        refused = client.get(url, query_string={"api_key": made_up_key()}, environ_base=ATTACKER)
        assert refused.status_code == 403
        validate_json("errors", refused.get_json())
    fourth = client.get(url, query_string={"api_key": made_up_key()}, environ_base=ATTACKER)
    assert fourth.status_code == 429
    validate_json("errors", fourth.get_json())
    assert fourth.get_json()[0]["code"] == 429
    assert client.get(url, environ_base={"REMOTE_ADDR": "10.20.0.2"}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/reports/{reference}",
        "/api/v1/categories",
        "/api/v1/places?q=Rushey",
        "/open311/v2/requests/{reference}.json",
        "/open311/v2/requests.json",
        "/open311/v2/services.json",
    ],
)
def test_unknown_and_revoked_keys_are_refused_on_reads(client, db_session, reference, path):
    issued = issue(db_session)
    url = path.format(reference=reference)
    assert client.get(url, headers={"X-Api-Key": issued.key}).status_code == 200
    # Open311 clients send the key as api_key; the JSON API as X-Api-Key. Both are read.
    joiner = "&" if "?" in url else "?"
    assert client.get(f"{url}{joiner}api_key={issued.key}").status_code == 200
    unknown = client.get(url, headers={"X-Api-Key": made_up_key()})
    assert unknown.status_code == 403 and reference not in unknown.text
    keys.revoke_client(db_session, issued.client.id, actor=None)
    revoked = client.get(url, headers={"X-Api-Key": issued.key})
    assert revoked.status_code == 403
    assert "revoked" in revoked.text and reference not in revoked.text
    assert client.get(url).status_code == 200, "no key at all is still welcome"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.from_regex(WELL_FORMED_KEY))
def test_no_well_formed_key_that_was_not_issued_reads_a_report(client, reference, key):
    response = client.get(f"/api/v1/reports/{reference}", headers={"X-Api-Key": key})
    assert response.status_code == 403
    assert reference not in response.text


def test_a_keyed_request_while_the_database_is_down_is_503(settings, redis_client):
    """The key is looked up before the limits count the request; with the database down that
    look-up fails, the request counts against its address, and the answer is the usual 503."""
    app = create_app(replace(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:9/x"))
    try:
        response = app.test_client().get(
            "/api/v1/reports/LEW-AAAAA", headers={"X-Api-Key": made_up_key()}
        )
    finally:
        app.extensions["safer_streets"].dispose()
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
