"""The intake's short path keeps its guarantees: a body is fingerprinted only when it can be
replayed, both submission limits are met in one Redis round trip, a Redis outage lets reports
in, a pooled connection PostgreSQL dropped costs a retry, not a report, and an API key checked
on a connection of its own still names its partner, records its use and is refused as soon
as it is revoked."""

from __future__ import annotations

import redis
from sqlalchemy import select, text

from safer_streets.api import keys
from safer_streets.api.schemas import ReportCreated
from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import ApiClient, Report
from safer_streets.redis_client import redis_options
from safer_streets.web.limits import SubmissionLimits
from tests.faults.services import free_port

CATFORD = {"lat": 51.4452, "lon": -0.0207}
VALID = {"category": "drug-dealing", **CATFORD, "description": "Dealing by the bus stop"}


def post(client, body, **headers):
    return client.post("/api/v1/reports", json=body, headers=headers)


def stored(db_session, reference: str) -> Report:
    return db_session.scalars(select(Report).where(Report.reference == reference)).one()


def test_a_report_without_a_key_is_not_fingerprinted(client, db_session):
    response = post(client, VALID)
    assert response.status_code == 201
    assert stored(db_session, response.get_json()["reference"]).request_fingerprint is None


def test_a_key_replayed_with_another_body_is_refused_and_with_the_same_body_answered(
    client, db_session
):
    first = post(client, VALID, **{"Idempotency-Key": "lean-1"})
    assert first.status_code == 201
    assert stored(db_session, first.get_json()["reference"]).request_fingerprint
    other = post(client, {**VALID, "description": "Another thing"}, **{"Idempotency-Key": "lean-1"})
    assert other.status_code == 409
    again = post(client, VALID, **{"Idempotency-Key": "lean-1"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


def test_the_answer_is_the_documented_model(client):
    response = post(client, VALID)
    assert response.mimetype == "application/json"
    body = ReportCreated.model_validate(response.get_json())
    assert response.headers["Location"] == body.links.self
    assert body.model_dump(mode="json") == response.get_json()


class CountingConnection(redis.Connection):
    """A connection that counts the commands (and pipelines) it sends: its round trips."""

    sent = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sent += 1
        return super().send_packed_command(command, check_health)


def counted_client(url: str) -> redis.Redis:
    pool = redis.ConnectionPool.from_url(url, connection_class=CountingConnection)
    return redis.Redis(connection_pool=pool)


def test_both_limits_are_checked_and_counted_in_one_round_trip(settings, redis_client):
    redis_client.flushdb()
    limits = SubmissionLimits(
        counted_client(settings.redis_url),
        "test-submissions",
        "api",
        per_client="2 per hour; 5 per day",
        per_area="3 per hour",
    )
    assert limits.hit("ip:10.0.0.1", "area:warm-up") is None  # loads the script once
    CountingConnection.sent = 0
    assert limits.hit("ip:10.0.0.1", "area:1") is None
    assert CountingConnection.sent == 1

    # The client's limit, whatever the area.
    refused = limits.hit("ip:10.0.0.1", "area:2")
    assert refused is not None and refused.limit.amount == 2
    assert 0 < refused.retry_after <= 3600
    # The area's, whoever sends: a refused request above counted against neither.
    assert limits.hit("ip:10.0.0.2", "area:1") is None
    assert limits.hit("ip:10.0.0.3", "area:1") is None
    refused = limits.hit("ip:10.0.0.4", "area:1")
    assert refused is not None and str(refused.limit) == "3 per 1 hour"
    assert limits.hit("ip:10.0.0.4", "area:elsewhere") is None
    assert CountingConnection.sent == 6
    redis_client.flushdb()


def test_without_redis_reports_are_let_in(app_with):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    limits = SubmissionLimits(
        redis.Redis.from_url(nowhere, **redis_options()),
        "test-submissions",
        "api",
        per_client="1 per hour",
        per_area="1 per hour",
    )
    assert limits.hit("ip:10.0.0.1", "area:1") is None
    assert limits.hit("ip:10.0.0.1", "area:1") is None

    client = app_with(
        redis_url=nowhere, api_write_rate_limit="1 per hour", area_rate_limit="1 per hour"
    ).test_client()
    assert [post(client, VALID).status_code for _ in range(2)] == [201, 201]


def test_a_connection_postgresql_dropped_is_replaced_and_the_report_stored(live_app, engine):
    client = live_app.test_client()
    assert post(client, VALID).status_code == 201
    intake_engine = live_app.extensions["safer_streets"].intake_engine
    assert intake_engine is not None and not intake_engine.pool._pre_ping
    with intake_engine.connect() as pooled:  # the one connection the intake has used
        pid = pooled.scalar(text("SELECT pg_backend_pid()"))
    with engine.connect() as conn:
        # Ended as a PostgreSQL restart ends it, while it waits in the pool.
        ended = conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert ended
    response = post(client, VALID)
    assert response.status_code == 201
    with intake_engine.connect() as pooled:
        assert pooled.scalar(text("SELECT pg_backend_pid()")) != pid
    with engine.connect() as conn:
        count = conn.scalar(
            text("SELECT count(*) FROM report WHERE reference = :r"),
            {"r": response.get_json()["reference"]},
        )
    assert count == 1


def _terminate_pooled_connection(live_app, engine) -> None:
    """End the intake pool's connection as a PostgreSQL restart would, while it waits."""
    intake_engine = live_app.extensions["safer_streets"].intake_engine
    with intake_engine.connect() as pooled:
        pid = pooled.scalar(text("SELECT pg_backend_pid()"))
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_a_key_checked_on_its_own_connection_names_its_partner_and_is_refused_once_revoked(
    live_app, engine
):
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        issued = keys.create_client(session, name="TfL app", partner_slug="tfl", actor=None)
    client = live_app.test_client()
    made = post(client, VALID, **{"X-Api-Key": issued.key})
    assert made.status_code == 201, made.text
    with engine.connect() as conn:
        event = conn.scalar(
            text(
                "SELECT e.data FROM report_event e JOIN report r ON r.id = e.report_id"
                " WHERE r.reference = :r AND e.kind = 'submitted'"
            ),
            {"r": made.get_json()["reference"]},
        )
        used = conn.scalar(select(ApiClient.last_used_at).where(ApiClient.id == issued.client.id))
    assert event == {"api_client": "TfL app", "partner": "tfl"}
    assert used is not None, "the key's use is committed"

    # The pooled connection the key is checked on is dropped: the request still succeeds.
    _terminate_pooled_connection(live_app, engine)
    assert post(client, VALID, **{"X-Api-Key": issued.key}).status_code == 201

    with session_scope(factory) as session:
        keys.revoke_client(session, issued.client.id, actor=None)
    refused = post(client, VALID, **{"X-Api-Key": issued.key})
    assert refused.status_code == 403
    assert refused.get_json()["detail"] == "api_key has been revoked"
