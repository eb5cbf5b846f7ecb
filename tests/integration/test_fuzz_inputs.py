"""Hostile and random input on the public surfaces: never a 5xx, never a stack trace."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
fuzz = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fuzz
@given(data=st.dictionaries(st.sampled_from(FORM_FIELDS), text, max_size=len(FORM_FIELDS)))
def test_the_report_form_answers_any_input_without_a_server_error(client, data):
    response = client.post("/report", data=data)
    assert response.status_code < 500, response.text[:500]


@fuzz
@given(email=text, password=text)
def test_login_answers_any_input_without_a_server_error(client, email, password):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code in (303, 401, 422, 429)


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
