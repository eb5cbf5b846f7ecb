"""The JSON API contract, on real PostGIS (rolled back after each test)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from safer_streets.api import keys
from safer_streets.intake.submission import scoped_idempotency_key
from safer_streets.models import Report, ReportEvent

CATFORD = {"lat": 51.4452, "lon": -0.0207}
VALID = {"category": "drug-dealing", **CATFORD, "description": "Dealing by the bus stop"}


def anonymous_key(key: str) -> str:
    """How a key sent without an API key is stored."""
    return scoped_idempotency_key(key, channel="api", client=None)


def post(client, body, **headers):
    return client.post("/api/v1/reports", json=body, headers=headers)


def test_a_report_gets_a_reference_and_links(client, db_session):
    response = post(client, VALID)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "received"
    assert body["reference"].startswith("LEW-")
    assert body["links"]["self"].endswith(f"/api/v1/reports/{body['reference']}")
    # The reporter's private link: it opens the report whatever its category.
    assert f"/track/{body['reference']}?key=" in body["links"]["tracking"]
    report = db_session.scalars(select(Report).where(Report.reference == body["reference"])).one()
    assert report.description == "Dealing by the bus stop"
    assert report.source == "api"
    kinds = [
        e.kind
        for e in db_session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id))
    ]
    assert kinds == ["submitted"]


def test_the_same_idempotency_key_returns_the_same_report(client, db_session):
    first = post(client, VALID, **{"Idempotency-Key": "tap-1"})
    again = post(client, VALID, **{"Idempotency-Key": "tap-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json()["reference"] == again.get_json()["reference"]
    assert again.headers["Idempotent-Replayed"] == "true"
    count = db_session.scalar(
        select(func.count())
        .select_from(Report)
        .where(Report.idempotency_key == anonymous_key("tap-1"))
    )
    assert count == 1


def test_an_idempotency_key_reused_for_a_different_report_is_a_conflict(client):
    post(client, VALID, **{"Idempotency-Key": "tap-2"})
    response = post(
        client, {**VALID, "description": "Something else"}, **{"Idempotency-Key": "tap-2"}
    )
    assert response.status_code == 409


def test_another_client_replaying_a_key_never_gets_that_clients_report(client, db_session):
    """Keys belong to whoever sent them: a replay by anyone else is a report of their own."""
    app_a = keys.create_client(db_session, name="App A", partner_slug=None, actor=None).key
    app_b = keys.create_client(db_session, name="App B", partner_slug=None, actor=None).key
    mine = post(client, VALID, **{"Idempotency-Key": "k-1", "X-Api-Key": app_a})
    reference = mine.get_json()["reference"]

    by_anyone = post(client, VALID, **{"Idempotency-Key": "k-1"})
    by_other_app = post(client, VALID, **{"Idempotency-Key": "k-1", "X-Api-Key": app_b})
    for replay in (by_anyone, by_other_app):
        assert replay.status_code == 201
        assert "Idempotent-Replayed" not in replay.headers
        assert replay.get_json()["reference"] != reference
    assert by_anyone.get_json()["reference"] != by_other_app.get_json()["reference"]

    # Its own retry is still a retry; with another body, a conflict.
    again = post(client, VALID, **{"Idempotency-Key": "k-1", "X-Api-Key": app_a})
    assert again.get_json()["reference"] == reference
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = post(
        client, {**VALID, "description": "Other"}, **{"Idempotency-Key": "k-1", "X-Api-Key": app_a}
    )
    assert changed.status_code == 409


def test_an_anonymous_replay_with_another_body_is_a_conflict_not_the_report(client):
    first = post(client, {**VALID, "contact_email": "a@example.org"}, **{"Idempotency-Key": "k-2"})
    reference = first.get_json()["reference"]
    replay = post(client, {**VALID, "description": "Guess"}, **{"Idempotency-Key": "k-2"})
    assert replay.status_code == 409
    assert replay.mimetype == "application/problem+json"
    assert reference not in replay.text
    # Only a retry of exactly the same request gets the report back.
    retry = post(client, {**VALID, "contact_email": "a@example.org"}, **{"Idempotency-Key": "k-2"})
    assert retry.status_code == 201 and retry.get_json()["reference"] == reference


def test_idempotency_keys_are_stored_by_client_not_as_sent(client, db_session):
    app_key = keys.create_client(db_session, name="App", partner_slug=None, actor=None)
    post(client, VALID, **{"Idempotency-Key": "k-3", "X-Api-Key": app_key.key})
    stored = db_session.scalars(
        select(Report.idempotency_key).where(Report.api_client_id == app_key.client.id)
    ).one()
    assert stored == scoped_idempotency_key("k-3", channel="api", client=app_key.client)
    assert "k-3" not in stored and len(stored) <= 200


def test_an_over_long_idempotency_key_is_refused(client, db_session):
    before = db_session.scalar(select(func.count()).select_from(Report))
    response = post(client, VALID, **{"Idempotency-Key": "k" * 201})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert db_session.scalar(select(func.count()).select_from(Report)) == before


def test_reading_a_report_never_shows_contact_details(client):
    created = post(client, {**VALID, "contact_email": "resident@example.org", "anonymous": False})
    reference = created.get_json()["reference"]
    response = client.get(f"/api/v1/reports/{reference}")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {
        "reference",
        "status",
        "category",
        "ward",
        "owner",
        "notified",
        "routing_reason",
        "created_at",
        "updated_at",
        "time_precision",
        "location",
        "description",
        "supporter_count",
    }
    assert "resident@example.org" not in response.text
    assert body["category"] == "drug-dealing"
    assert body["ward"] is None and body["owner"] is None


def test_an_unknown_reference_is_404_as_a_problem_document(client):
    response = client.get("/api/v1/reports/LEW-ZZZZZ")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**VALID, "category": "burglary"}, "category", "unknown category 'burglary'"),
        ({**VALID, "lat": "51.4x"}, "lat", "must be a number"),
        ({k: v for k, v in VALID.items() if k != "lon"}, "lon", "is required"),
        ({**VALID, "lat": 51.5072, "lon": -0.1276}, "location", "outside Lewisham"),
        ({**VALID, "lat": -0.0207, "lon": 51.4452}, "location", "swapped"),
        ({**VALID, "description": "x" * 4001}, "description", "at most 4000 characters"),
    ],
)
def test_bad_input_names_each_field_and_stores_nothing(client, db_session, body, field, message):
    before = db_session.scalar(select(func.count()).select_from(Report))
    response = post(client, body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert message in response.get_json()["errors"][field]
    assert db_session.scalar(select(func.count()).select_from(Report)) == before


def test_several_bad_fields_are_all_reported(client):
    response = post(client, {**VALID, "category": "nope", "lat": 51.5072, "lon": -0.1276})
    errors = response.get_json()["errors"]
    assert set(errors) == {"category", "location"}


def test_wrong_content_type_and_malformed_json_are_refused(client):
    form = client.post("/api/v1/reports", data="category=weapons")
    assert form.status_code == 415
    broken = client.post("/api/v1/reports", data="{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.get_json()["detail"] == "the body is not valid JSON"
    array = client.post("/api/v1/reports", json=[1, 2])
    assert array.status_code == 422
    assert "body" in array.get_json()["errors"]


def test_an_oversized_body_is_refused_cleanly(client):
    response = client.post(
        "/api/v1/reports", data="x" * (13 * 1024 * 1024), content_type="application/json"
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_categories_list_the_agreed_slugs(client):
    slugs = [c["slug"] for c in client.get("/api/v1/categories").get_json()]
    assert slugs == [
        "street-lighting",
        "feeling-unsafe",
        "harassment",
        "anti-social-behaviour",
        "drug-dealing",
        "weapons",
        "dangerous-road",
        "public-transport",
        "fly-tipping",
        "graffiti-vandalism",
        "abandoned-vehicle",
        "overgrown-vegetation",
        "damaged-pavement",
    ]
    by_slug = {c["slug"]: c for c in client.get("/api/v1/categories").get_json()}
    assert by_slug["harassment"]["sensitive"] and by_slug["weapons"]["emergency_notice"]


def test_health_reports_database_redis_and_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["worker"] == {"ok": False, "workers": 0}
    assert body["status"] == "degraded"


def test_a_postcode_alone_places_the_report(client, db_session):
    response = post(
        client, {"category": "fly-tipping", "location_text": "se6 4ju", "description": "Sofa"}
    )
    assert response.status_code == 201
    report = db_session.scalars(
        select(Report).where(Report.reference == response.get_json()["reference"])
    ).one()
    assert report.postcode == "SE6 4JU"
    assert report.location is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SE15 1AA", "outside Lewisham, in Southwark"),
        ("SE10 9NF", "outside Lewisham, in Greenwich"),
        ("SW1A 1AA", "not a Lewisham postcode"),
    ],
)
def test_a_postcode_outside_lewisham_is_refused_naming_where_to_report(client, text, message):
    response = post(client, {"category": "fly-tipping", "location_text": text, "description": "x"})
    assert response.status_code == 422
    assert message in response.get_json()["errors"]["location_text"]


def test_reasons_must_belong_to_the_category(client):
    ok = post(client, {**VALID, "category": "feeling-unsafe", "reasons": ["badly-lit", "no-cctv"]})
    assert ok.status_code == 201
    wrong = post(client, {**VALID, "category": "fly-tipping", "reasons": ["badly-lit"]})
    assert wrong.status_code == 422
    assert "badly-lit" in wrong.get_json()["errors"]["reasons"]


def test_simultaneous_retries_with_one_idempotency_key_make_one_report(live_app, engine):
    """A double tap or a mobile retry racing the first request still makes one report."""

    def submit(_: int) -> str:
        with live_app.test_client() as client:
            response = post(client, VALID, **{"Idempotency-Key": "race-1"})
            assert response.status_code == 201
            return response.get_json()["reference"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        references = set(pool.map(submit, range(16)))
    assert len(references) == 1
    with engine.connect() as conn:
        count = conn.scalar(
            select(func.count())
            .select_from(Report)
            .where(Report.idempotency_key == anonymous_key("race-1"))
        )
    assert count == 1


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/report", "/api/v1/categories"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "https://tile.openstreetmap.org" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
