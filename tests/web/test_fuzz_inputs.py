"""Hostile and random input on the public surfaces: never a 5xx, never a stack trace, and
never a sign-in without the password."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safer_streets.accounts import users
from safer_streets.models import Role
from tests.helpers import PASSWORD, PASSWORDS

CATFORD = {"category": "fly-tipping", "lat": 51.4452, "lon": -0.0207, "description": "Sofa"}
# The inputs that once answered 500 (or stored a report the worker could not route), kept as
# explicit examples so that every run tries them.
YEAR_1 = "0001-01-01T00:00:00Z"
YEAR_1_AT_PLUS_14 = "0001-01-01T00:00:00+14:00"
PAST_BIGINT = "9223372036854775808"
DEEP_JSON = [
    b"[" * 100_000,
    b"{" * 5_000,
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b"[" * 5_000 + b"]" * 5_000,
]
INJECTED_NEXT = "/triage\r\nX-Injected: 1"

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
    "today_time",
    "occurred_date",
    "occurred_time",
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
@example(
    data={
        "category": "fly-tipping",
        "location_text": "SE6 4JU",
        "description": "Sofa",
        "when": "other",
        "occurred_date": "0001-01-01",
        "occurred_time": "00:00",
    }
)
@example(data={"occurred_at": YEAR_1_AT_PLUS_14, "when": "other", "occurred_date": "01/01/0001"})
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
@given(email=text, password=text, next_=text)
@example(email="someone@example.org", password="wrong", next_=INJECTED_NEXT)
def test_login_answers_any_input_without_a_server_error(client, email, password, next_):
    response = client.post(
        "/login", data={"email": email, "password": password}, query_string={"next": next_}
    )
    # A 303 would be a successful sign-in: neither random credentials nor next= may cause one.
    assert response.status_code in (401, 422, 429)


@pytest.fixture
def staff(db_session):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="fuzz@example.org",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="lewisham-asb",
    )
    db_session.flush()


@fuzz
@given(next_=text)
@example(next_=INJECTED_NEXT)
@example(next_="/triage\n\rX-Injected: 1")
@example(next_="//evil.example")
@example(next_="/\\evil.example")
@example(next_="/\t/evil.example")
def test_signing_in_with_any_next_goes_to_a_page_of_this_site(client, staff, next_):
    response = client.post(
        "/login",
        data={"email": "fuzz@example.org", "password": PASSWORD},
        query_string={"next": next_},
    )
    if "\x00" in next_:
        # A NUL character anywhere in a request is refused before anything is read.
        assert response.status_code == 422
        return
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert not urlsplit(location).netloc and "\\" not in location
    assert "X-Injected" not in response.headers


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
@example(body={**CATFORD, "occurred_at": YEAR_1})
@example(body={**CATFORD, "occurred_at": YEAR_1_AT_PLUS_14})
@example(body={**CATFORD, "occurred_at": "9999-12-31T23:59:59-14:00"})
def test_the_json_api_answers_any_json_without_a_server_error(client, body):
    response = client.post("/api/v1/reports", json=body)
    assert response.status_code < 500, response.text[:500]
    assert response.mimetype == "application/problem+json" or response.status_code == 201
    if isinstance(body, dict) and body.get("occurred_at") in (YEAR_1, YEAR_1_AT_PLUS_14):
        assert response.status_code == 422


@fuzz
@given(body=st.binary(max_size=300))
@example(body=DEEP_JSON[0])
@example(body=DEEP_JSON[1])
@example(body=DEEP_JSON[2])
@example(body=DEEP_JSON[3])
@example(body=b'{"lat": ' + b"9" * 5_000 + b"}")
def test_the_json_api_answers_any_bytes_without_a_server_error(client, body):
    response = client.post("/api/v1/reports", data=body, content_type="application/json")
    assert response.status_code < 500, response.text[:500]
    assert response.mimetype == "application/problem+json" or response.status_code == 201
    if body in DEEP_JSON:
        assert response.status_code == 400


OPEN311_PARAMETERS = ["page", "page_size", "start_date", "end_date", "status", "service_code"]


@fuzz
@given(params=st.dictionaries(st.sampled_from(OPEN311_PARAMETERS), text, max_size=4))
@example(params={"page": PAST_BIGINT})
@example(params={"page_size": PAST_BIGINT})
@example(params={"start_date": "9999-12-31T23:59:59Z"})
@example(params={"end_date": YEAR_1_AT_PLUS_14})
@example(params={"page": "9" * 5000})
def test_open311_lists_answer_any_filters_without_a_server_error(client, params):
    for path in ("requests.json", "requests.xml", "servicerequestupdates.json"):
        response = client.get(f"/open311/v2/{path}", query_string=params)
        assert response.status_code in (200, 400), response.text[:500]
    if params in ({"page": PAST_BIGINT}, {"end_date": YEAR_1_AT_PLUS_14}):
        assert response.status_code == 400


@fuzz
@given(reference=text, query=text, limit=text)
@example(reference="LEW-22222", query="rushey", limit="²")
@example(reference="LEW-22222", query="rushey", limit=PAST_BIGINT)
def test_public_lookups_answer_anything_without_a_server_error(client, reference, query, limit):
    for path in (f"/track/{reference}", f"/api/v1/reports/{reference}"):
        assert client.get(path).status_code < 500
    assert client.get("/track", query_string={"reference": reference}).status_code < 500
    places = client.get("/api/v1/places", query_string={"q": query, "limit": limit})
    assert places.status_code < 500
