"""An SMTP outage with 1,000 emails waiting never delays routing, nor floods the broker.

A routing worker and an email worker run as the Procfile runs them (each on its own queues);
the mail server refuses connections, then comes back: every email goes out once.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import Engine

from safer_streets.models import ReportStatus
from safer_streets.settings import Settings
from safer_streets.web.app import create_app
from tests.faults.conftest import worker_environment
from tests.faults.services import PrivateRedis, WorkerProcess, free_port
from tests.faults.test_faults import REPORT, reference_of
from tests.helpers import Mailbox, truncate_live_tables, wait_for_status
from workers.queue import SEND_EMAILS, Queues, make_celery

pytestmark = pytest.mark.faults

EMAILS = 1_000
REPORTS = 20
ROUTED_WITHIN = 5.0  # seconds: generous; the p95 is printed, typically well under one second
# One message per batch of 100: the test's ten, the same rows once more if the outbox sweep
# leases them before the email worker reads its queue, and the batches of reports routed since.
# Never one message per email per retry, which would be thousands.
EMAIL_QUEUE_BOUND = 2 * (EMAILS // 100) + 5


@pytest.fixture
def outage_settings(
    settings: Settings, engine: Engine, tmp_path: Path
) -> Iterator[tuple[Settings, PrivateRedis]]:
    broker = PrivateRedis()
    broker.start()
    yield (
        replace(
            settings,
            redis_url=broker.url,
            smtp_port=free_port(),  # nothing listens: connections are refused
            sweep_after_seconds=1,
            sweep_every_seconds=1,
            visibility_timeout_seconds=3,
            email_retry_base_seconds=1,
            email_retry_max_seconds=2,
            outbox_sweep_every_seconds=1,
            outbox_sweep_after_seconds=1,
        ),
        broker,
    )
    broker.stop()
    truncate_live_tables(engine)


def _routed_seconds(engine: Engine, reference: str, deadline: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        with engine.connect() as conn:
            status = conn.scalar(
                text("SELECT status FROM report WHERE reference = :r"), {"r": reference}
            )
        if status != ReportStatus.RECEIVED.name and status != ReportStatus.RECEIVED.value:
            return time.monotonic() - start
        time.sleep(0.02)
    pytest.fail(f"{reference} still received after {deadline}s while SMTP was down")


def test_with_smtp_down_and_1000_emails_waiting_reports_are_routed_and_the_broker_stays_small(
    outage_settings: tuple[Settings, PrivateRedis], engine: Engine, tmp_path: Path
) -> None:
    settings, _broker = outage_settings
    queues = Queues.for_settings(settings)
    environment = worker_environment(settings)
    workers: list[WorkerProcess] = [
        WorkerProcess(environment, tmp_path / "routing.log", queues=[queues.routing]),
        WorkerProcess(
            environment,
            tmp_path / "email.log",
            embedded_beat=False,
            queues=[queues.email, queues.slow],
        ),
    ]
    app = create_app(settings)
    client = app.test_client()
    celery = make_celery(settings)
    broker_client = redis.Redis.from_url(settings.redis_url)
    try:
        for worker in workers:
            worker.start()
        first = reference_of(client.post("/api/v1/reports", json=REPORT))
        wait_for_status(engine, first, ReportStatus.ROUTED, timeout=60)

        # 1,000 emails about that report wait to be sent, published as their writers would.
        with engine.begin() as conn:
            report_id, event_id = conn.execute(
                text(
                    "SELECT report.id, max(report_event.id) FROM report JOIN report_event "
                    "ON report_event.report_id = report.id WHERE reference = :r GROUP BY report.id"
                ),
                {"r": first},
            ).one()
            ids = list(
                conn.scalars(
                    text(
                        "INSERT INTO email_outbox"
                        " (key, kind, recipient, report_id, event_id, data)"
                        " SELECT 'outage:' || n, 'public-update',"
                        " 'resident' || n || '@example.org', :report, :event, '{}'"
                        " FROM generate_series(1, :n) AS n RETURNING id"
                    ),
                    {"report": report_id, "event": event_id, "n": EMAILS},
                )
            )
        for start in range(0, len(ids), 100):
            celery.send_task(SEND_EMAILS, args=[ids[start : start + 100]])

        lengths: list[int] = []
        timings: list[float] = []
        for n in range(REPORTS):
            reference = reference_of(
                client.post("/api/v1/reports", json={**REPORT, "description": f"during {n}"})
            )
            timings.append(_routed_seconds(engine, reference, ROUTED_WITHIN))
            lengths.append(int(broker_client.llen(queues.email)))
            time.sleep(0.2)  # sweeps and retries keep running between reports
        p95 = statistics.quantiles(timings, n=20)[-1]
        print(
            f"\nSMTP down, {EMAILS} emails waiting: submit → routed p95 {p95 * 1000:.0f} ms, "
            f"max {max(timings) * 1000:.0f} ms; email queue length max {max(lengths)}"
        )
        assert max(lengths) <= EMAIL_QUEUE_BOUND, lengths
        with engine.connect() as conn:
            tried = conn.scalar(
                text("SELECT count(*) FROM email_outbox WHERE attempts > 0 AND sent_at IS NULL")
            )
        assert tried >= EMAILS, "the failed sends are recorded in the outbox"

        mailbox = Mailbox("127.0.0.1", settings.smtp_port)
        mailbox.start()
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    unsent = conn.scalar(
                        text("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL")
                    )
                if not unsent:
                    break
                time.sleep(0.5)
            assert unsent == 0, f"{unsent} emails never sent after SMTP came back"
            time.sleep(2)  # any redelivered message would arrive now
            received = Counter(str(message["To"]) for message in mailbox.messages)
            # Each outbox row's message has its own Message-ID (the partner gets one per report).
            per_row = Counter(str(message["Message-ID"]) for message in mailbox.messages)
        finally:
            mailbox.stop()
        outage = {f"resident{n}@example.org" for n in range(1, EMAILS + 1)}
        assert outage <= set(received), "every email went out"
        twice = {row: n for row, n in per_row.items() if n > 1}
        # Only a worker killed between the server's "250" and the commit sends twice; none is.
        assert not twice, twice
    finally:
        for worker in workers:
            worker.stop()
        broker_client.close()
        app.extensions["safer_streets"].dispose()
