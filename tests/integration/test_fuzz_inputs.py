"""Hostile and random input on the public surfaces: never a 5xx, never a stack trace, and
never a sign-in without the password."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safer_streets.accounts import users
from safer_streets.models import Role
from tests.helpers import PASSWORD, PASSWORDS

FORM_FIELDS = [
    "category",
    "lat",
    "lon",
    "location_text",
    "description",
    "contact_email",
    "occurred_at",
    "when",
    "date",
    "time",
    "share_details",
    "reasons",
    "submission_id",
    "csrf_token",
]
ACCOUNT = "sgt@rushey-green.example"
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
fuzz = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fuzz
@given(data=st.dictionaries(st.sampled_from(FORM_FIELDS), text, max_size=len(FORM_FIELDS)))
def test_the_report_form_answers_any_input_without_a_server_error(client, data):
    response = client.post("/report", data=data)
    assert response.status_code < 500, response.text[:500]


@pytest.fixture
def account(db_session):
    """A real account for the fuzzed sign-ins to aim at."""
    return users.create_user(
        db_session,
        passwords=PASSWORDS,
        email=ACCOUNT,
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="met-snt-rushey-green",
    )


@fuzz
@given(
    email=st.sampled_from([ACCOUNT, ACCOUNT.upper(), f"  {ACCOUNT} "]) | text,
    password=text.filter(lambda typed: typed != PASSWORD),
)
def test_a_fuzzed_sign_in_never_signs_anyone_in(client, account, email, password):
    response = client.post("/login", data={"email": email, "password": password})
    # 401: wrong credentials; 422: a NUL character, refused before anything is checked. A 303
    # would be the redirect of a successful sign-in, and the rate limits are out of reach here.
    assert response.status_code in (401, 422), response.status_code
    if response.status_code == 422:
        assert "\x00" in email + password
    with client.session_transaction() as cookie:
        assert "user_id" not in cookie
        assert "pending_user_id" not in cookie


@fuzz
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | text,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=6)
        ),
        max_leaves=20,
    )
)
def test_the_json_api_answers_any_json_without_a_server_error(client, body):
    response = client.post("/api/v1/reports", json=body)
    assert response.status_code < 500, response.text[:500]
    assert response.mimetype == "application/problem+json" or response.status_code == 201


@fuzz
@given(reference=text, query=text)
def test_public_lookups_answer_anything_without_a_server_error(client, reference, query):
    for path in (f"/track/{reference}", f"/api/v1/reports/{reference}"):
        assert client.get(path).status_code < 500
    assert client.get("/track", query_string={"reference": reference}).status_code < 500
    assert client.get("/api/v1/places", query_string={"q": query}).status_code < 500
