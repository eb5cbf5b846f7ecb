"""Faults survived: Redis down, a worker SIGKILLed mid-task, PostgreSQL restarted.

Each test starts private Redis/PostgreSQL/worker processes and kills or restarts only those.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from safer_streets.db import make_engine
from safer_streets.models import Report, ReportStatus
from safer_streets.web.app import create_app
from tests.faults.services import PrivatePostgres, count_outcomes
from tests.helpers import routed_events, wait_for_status

pytestmark = pytest.mark.faults

REPORT = {"category": "fly-tipping", "lat": 51.4452, "lon": -0.0207, "description": "Sofa"}


def waiting_on_a_lock(engine: Engine) -> bool:
    """Whether some session is blocked on a row lock (asked in a fresh transaction each time,
    because PostgreSQL's activity view is a snapshot per transaction)."""
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        )


def reference_of(response) -> str:
    assert response.status_code == 201, response.text
    return response.get_json()["reference"]


def test_a_report_made_while_redis_is_down_is_saved_then_processed_exactly_once(
    fault_settings, private_redis, make_worker, engine
):
    app = create_app(fault_settings)
    private_redis.stop()
    reference = reference_of(app.test_client().post("/api/v1/reports", json=REPORT))
    assert wait_for_status(engine, reference, ReportStatus.RECEIVED, timeout=1)

    private_redis.start()
    make_worker(fault_settings).start()
    wait_for_status(engine, reference, ReportStatus.ROUTED, timeout=60)
    time.sleep(3)  # several more sweeps run: none may route it again
    assert routed_events(engine, reference) == 1
    app.extensions["safer_streets"].dispose()


def test_after_redis_restarts_the_next_report_is_queued_at_once_not_left_to_the_sweep(
    fault_settings, private_redis, make_worker, engine
):
    settings = replace(fault_settings, sweep_after_seconds=3600)  # only the queue can route it
    client = create_app(settings).test_client()
    make_worker(settings).start()
    before = reference_of(client.post("/api/v1/reports", json=REPORT))
    wait_for_status(engine, before, ReportStatus.ROUTED, timeout=60)

    private_redis.stop()
    private_redis.start()
    after = reference_of(client.post("/api/v1/reports", json=REPORT))
    wait_for_status(engine, after, ReportStatus.ROUTED, timeout=60)
    assert routed_events(engine, after) == 1
    client.application.extensions["safer_streets"].dispose()


def test_a_worker_killed_mid_task_has_the_task_redelivered_and_routes_once(
    fault_settings, make_worker, engine
):
    # No sweep here: only redelivery of the unacknowledged message can finish the job.
    settings = replace(fault_settings, sweep_after_seconds=3600)
    app = create_app(settings)
    reference = reference_of(app.test_client().post("/api/v1/reports", json=REPORT))
    time.sleep(0.5)  # the publish thread has put the task on the queue

    first = make_worker(settings)
    with engine.connect() as blocker:
        # Hold the report's row so the worker is stuck inside process_reports.
        blocker.execute(
            text("SELECT id FROM report WHERE reference = :ref FOR UPDATE"), {"ref": reference}
        )
        first.start()
        deadline = time.monotonic() + 60
        while not waiting_on_a_lock(engine):
            assert time.monotonic() < deadline, "the worker never reached the report"
            time.sleep(0.1)
        first.kill()
        blocker.rollback()

    assert wait_for_status(engine, reference, ReportStatus.RECEIVED, timeout=1)
    make_worker(settings).start()
    wait_for_status(engine, reference, ReportStatus.ROUTED, timeout=90)
    time.sleep(2)
    assert routed_events(engine, reference) == 1
    with engine.connect() as conn:
        emails = conn.scalar(
            text(
                "SELECT count(*) FROM email_outbox JOIN report ON report.id = report_id "
                "WHERE report.reference = :ref AND kind = 'new-report'"
            ),
            {"ref": reference},
        )
    assert emails == 1, "the owner partner is emailed once, not once per delivery"
    app.extensions["safer_streets"].dispose()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    postgres = PrivatePostgres.seeded()
    yield postgres
    postgres.stop()
    shutil.rmtree(postgres.directory)


def test_postgres_restarted_under_the_app_fails_cleanly_then_resumes_without_a_restart(
    fault_settings, private_postgres, make_worker
):
    settings = replace(fault_settings, database_url=private_postgres.url)
    app = create_app(settings)
    client = app.test_client()
    make_worker(settings).start()
    private_engine = make_engine(private_postgres.url)
    before = reference_of(client.post("/api/v1/reports", json=REPORT))
    wait_for_status(private_engine, before, ReportStatus.ROUTED, timeout=60)

    private_postgres.stop()
    refused = client.post("/api/v1/reports", json={**REPORT, "description": "during outage"})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"]
    assert refused.mimetype == "application/problem+json"
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["status"] == "down"
    assert health.get_json()["reasons"][0].startswith("database: not answering")
    assert client.get(f"/api/v1/reports/{before}").status_code == 503

    private_postgres.start()
    after = reference_of(client.post("/api/v1/reports", json={**REPORT, "description": "after"}))
    wait_for_status(private_engine, after, ReportStatus.ROUTED, timeout=60)
    with private_engine.connect() as conn:
        descriptions = conn.scalars(select(Report.description).order_by(Report.id)).all()
        assert descriptions == ["Sofa", "after"]
        assert conn.scalar(select(func.count()).select_from(Report)) == 2
    private_engine.dispose()
    app.extensions["safer_streets"].dispose()


def received_left(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM report WHERE status = 'received'"))


@pytest.mark.usefixtures("mailbox")
def test_every_report_is_stored_and_routed_once_through_all_three_faults(
    fault_settings, private_redis, private_postgres, make_worker
):
    """bench/bench_chaos.py in small: 300 reports through a SIGKILLed worker and restarts of
    Redis and PostgreSQL, then each report counted in the database."""
    settings = replace(fault_settings, database_url=private_postgres.url)
    app = create_app(settings)
    client = app.test_client()
    worker = make_worker(settings)
    worker.start()
    accepted: dict[str, str] = {}

    def post(i: int):
        return client.post(
            "/api/v1/reports",
            json={**REPORT, "description": f"Report {i}"},
            headers={"Idempotency-Key": f"chaos-{i}"},
        )

    def submit(numbers: range) -> None:
        # As a phone does: the same request with the same key until it is accepted.
        for i in numbers:
            for _ in range(50):
                response = post(i)
                if response.status_code == 201:
                    accepted[f"chaos-{i}"] = response.get_json()["reference"]
                    break
                assert response.status_code == 503, response.text
                time.sleep(0.2)

    submit(range(100))
    worker.kill()  # with tasks queued and in flight
    worker.start()
    submit(range(100, 150))
    private_redis.stop()  # every queued message is lost
    submit(range(150, 200))
    private_redis.start()
    submit(range(200, 250))
    private_postgres.stop(mode="immediate")
    assert post(250).status_code == 503
    private_postgres.start()
    submit(range(250, 300))

    engine = make_engine(private_postgres.url)
    deadline = time.monotonic() + 60
    while received_left(engine):
        assert time.monotonic() < deadline, f"{received_left(engine)} reports never routed"
        time.sleep(0.5)
    # Long enough for any unacknowledged task to be handed out again, and for more sweeps.
    time.sleep(settings.visibility_timeout_seconds + 2)
    outcome = count_outcomes(engine, accepted)
    engine.dispose()
    assert outcome.stored == 300
    assert outcome.routed_once == 300
    assert outcome.failures() == []
    app.extensions["safer_streets"].dispose()
