"""The JSON API against its own OpenAPI document (Schemathesis on the WSGI app), the document's
single source (the pydantic models), the docs page, and problem documents for every error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import select

from safer_streets.api import keys
from safer_streets.api.schemas import CategoryView, ReportView
from safer_streets.intake.submission import ReportSubmission
from safer_streets.models import Report
from safer_streets.web.limits import limiter

CATFORD = {"lat": 51.4452, "lon": -0.0207}


def test_the_api_honours_its_openapi_document(app):
    """Every operation, with Hypothesis-generated requests: no 5xx, and every status, header,
    content type and body as documented. Valid-looking data may still be refused (a point
    outside Lewisham, an unknown category): those business rules are stated in the
    descriptions but cannot be expressed in JSON Schema, so positive data is not required to
    be accepted."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.label for operation in operations} >= {
        "POST /api/v1/reports",
        "GET /api/v1/reports/{reference}",
        "GET /api/v1/categories",
        "GET /healthz",
    }

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=60,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def honours_the_document(case):
            case.call_and_validate(headers=UNCOMPRESSED, excluded_checks=[positive_data_acceptance])

        honours_the_document()


# The WSGI transport hands over the body as the app sent it, without the decoding an HTTP
# client does, so the checks ask for it uncompressed (compression: tests/intake).
UNCOMPRESSED = {"Accept-Encoding": "identity"}
SOFA = {**CATFORD, "category": "fly-tipping", "description": "Sofa"}
ONCE_FAILED = [
    pytest.param(b"[" * 100_000, 400, id="100000-brackets"),
    pytest.param(b"{" * 5_000, 400, id="5000-braces"),
    pytest.param(b'{"a":' * 5_000 + b"1" + b"}" * 5_000, 400, id="5000-nested-objects"),
    pytest.param(b"[" * 5_000 + b"]" * 5_000, 400, id="5000-nested-arrays"),
    pytest.param({**SOFA, "occurred_at": "0001-01-01T00:00:00Z"}, 422, id="occurred-year-1"),
    pytest.param(
        {**SOFA, "occurred_at": "0001-01-01T00:00:00+14:00"}, 422, id="occurred-year-1-plus-14"
    ),
]


@pytest.mark.parametrize(("body", "status"), ONCE_FAILED)
def test_inputs_that_once_failed_are_refused_as_documented(app, body, status):
    """Explicit cases beside the generated ones: bodies that used to answer 500 (or store a
    report the worker could not route), checked against the document like any other."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    case = schema["/api/v1/reports"]["POST"].Case(body=body, media_type="application/json")
    response = case.call_and_validate(
        headers=UNCOMPRESSED, excluded_checks=[positive_data_acceptance]
    )
    assert response.status_code == status


def test_the_document_is_generated_from_the_validating_models(client):
    document = client.get("/api/v1/openapi.json").get_json()
    components = document["components"]["schemas"]
    assert document["openapi"].startswith("3.1")
    generated = ReportSubmission.model_json_schema(ref_template="#/components/schemas/{model}")
    assert components["ReportSubmission"] == generated
    assert set(components["ReportView"]["properties"]) == set(ReportView.model_fields)
    assert set(components["CategoryView"]["properties"]) == set(CategoryView.model_fields)
    body = document["paths"]["/api/v1/reports"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReportSubmission"
    }


def test_the_docs_page_shows_every_operation_and_field(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    document = client.get("/api/v1/openapi.json").get_json()
    for path, methods in document["paths"].items():
        for method in methods:
            assert f"{method.upper()} {path}" in page.text
    for field in ReportSubmission.model_fields:
        assert f"<code>{field}</code>" in page.text
    assert "at most 4000 characters" in page.text
    assert "/open311/v2/discovery.xml" in page.text
    assert "cdn" not in page.text.lower()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/api/v1/nothing", {}, 404),
        ("DELETE", "/api/v1/reports", {}, 405),
        ("POST", "/api/v1/reports", {"data": "x" * (13 * 1024 * 1024)}, 413),
        ("POST", "/api/v1/reports", {"data": "category=weapons"}, 415),
        ("POST", "/api/v1/reports", {"json": {"category": "weapons"}}, 422),
        ("POST", "/api/v1/reports", {"json": {**CATFORD, "category": "x\x00"}}, 422),
        ("POST", "/api/v1/reports", {"json": CATFORD, "headers": {"X-Api-Key": "nope"}}, 403),
    ],
)
def test_every_api_error_is_a_problem_document(client, method, path, kwargs, status):
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    if status == 405:
        assert "POST" in response.headers["Allow"]


def test_too_many_reports_from_one_address_is_429(app_with):
    app = app_with(api_write_rate_limit="1 per minute")
    client = app.test_client()
    with app.app_context():
        limiter.reset()
    body = {"category": "fly-tipping", **CATFORD, "description": "Sofa"}
    assert client.post("/api/v1/reports", json=body).status_code == 201
    response = client.post("/api/v1/reports", json=body)
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0


def test_a_report_made_with_a_key_is_attributed_to_its_client(client, db_session):
    issued = keys.create_client(db_session, name="Civic app", partner_slug=None, actor=None)
    response = client.post(
        "/api/v1/reports",
        json={"category": "fly-tipping", **CATFORD, "description": "Sofa"},
        headers={"X-Api-Key": issued.key},
    )
    assert response.status_code == 201
    report = db_session.scalars(
        select(Report).where(Report.reference == response.get_json()["reference"])
    ).one()
    assert report.api_client_id == issued.client.id and report.source == "api"
    assert report.events[0].api_client_id == issued.client.id


def test_the_json_api_takes_contact_details_privately(client, db_session):
    response = client.post(
        "/api/v1/reports",
        json={
            "category": "feeling-unsafe",
            "location_text": "SE6 4JU",
            "reasons": ["followed"],
            "description": "Followed from the station",
            "contact_name": "Ada Lovelace",
            "contact_phone": "020 7946 0000",
            "media_url": "https://photos.example.org/1.jpg",
        },
    )
    assert response.status_code == 201, response.text
    reference = response.get_json()["reference"]
    report = db_session.scalars(select(Report).where(Report.reference == reference)).one()
    assert (report.contact_name, report.contact_phone) == ("Ada Lovelace", "020 7946 0000")
    assert report.media_url == "https://photos.example.org/1.jpg"
    public = client.get(f"/api/v1/reports/{reference}").text
    assert "Lovelace" not in public and "7946" not in public
    refused = client.post(
        "/api/v1/reports",
        json={**CATFORD, "category": "fly-tipping", "description": "x", "contact_phone": "ring"},
    )
    assert refused.get_json()["errors"] == {"contact_phone": "must be a phone number"}


def test_categories_list_their_reasons(client):
    categories = {c["slug"]: c for c in client.get("/api/v1/categories").get_json()}
    assert [r["key"] for r in categories["feeling-unsafe"]["reasons"]][:3] == [
        "badly-lit",
        "isolated",
        "no-cctv",
    ]
    assert categories["feeling-unsafe"]["reasons"][7] == {
        "key": "followed",
        "label": "I was followed",
    }
    assert categories["drug-dealing"]["reasons"] == []
