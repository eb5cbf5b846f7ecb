"""The Celery configuration shared by the web (which only sends) and the worker."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Collection
from dataclasses import dataclass

import redis
from celery import Celery
from celery.schedules import crontab
from kombu import Queue
from kombu.utils.uuid import uuid

from safer_streets.redis_client import make_redis
from safer_streets.settings import Settings

logger = logging.getLogger(__name__)

PROCESS_REPORTS = "workers.process_reports"
SWEEP_RECEIVED = "workers.sweep_received"
SEND_EMAIL = "workers.send_email"
SEND_EMAILS = "workers.send_emails"
SWEEP_OUTBOX = "workers.sweep_outbox"
QUEUE_DIGESTS = "workers.queue_digests"
COMPUTE_HOTSPOT_RUN = "workers.compute_hotspot_run"
COMPUTE_HOTSPOT_RUNS = "workers.compute_hotspot_runs"
NIGHTLY_HOTSPOT_RUNS = "workers.nightly_hotspot_runs"
EXPIRE_PERSONAL_DATA = "workers.expire_personal_data"
MATCH_ALERTS = "workers.match_alerts"
QUEUE_ALERT_DIGESTS = "workers.queue_alert_digests"
QUEUE_QUESTIONNAIRES = "workers.queue_questionnaires"
SEND_TO_CASE_SYSTEMS = "workers.send_to_case_systems"
SWEEP_CASE_SYSTEMS = "workers.sweep_case_systems"
READ_CASE_SYSTEM_UPDATES = "workers.read_case_system_updates"
COMPACT_QUEUE_COUNTS = "workers.compact_queue_counts"


@dataclass(frozen=True)
class Queues:
    """The three queues, named after the configured one so that deployments (and tests) sharing
    a Redis never consume each other's work.

    Routing has a queue of its own so that no backlog of email (an SMTP outage) or of slow jobs
    (hotspot runs, retention) can ever delay a report reaching its partner.
    """

    routing: str
    email: str
    slow: str

    @classmethod
    def for_settings(cls, settings: Settings) -> Queues:
        """``<queue>``, ``<queue>.email`` and ``<queue>.slow``."""
        routing, email, slow = settings.celery_queues()
        return cls(routing=routing, email=email, slow=slow)

    def all(self) -> tuple[str, str, str]:
        """In the order a worker serving several takes from them: routing first."""
        return (self.routing, self.email, self.slow)


# Which queue each task goes to (by the attribute of ``Queues``).
TASK_QUEUES = {
    PROCESS_REPORTS: "routing",
    SWEEP_RECEIVED: "routing",
    SEND_EMAIL: "email",
    SEND_EMAILS: "email",
    SWEEP_OUTBOX: "email",
    QUEUE_DIGESTS: "email",
    COMPUTE_HOTSPOT_RUN: "slow",
    COMPUTE_HOTSPOT_RUNS: "slow",
    NIGHTLY_HOTSPOT_RUNS: "slow",
    EXPIRE_PERSONAL_DATA: "slow",
    COMPACT_QUEUE_COUNTS: "slow",
    MATCH_ALERTS: "email",
    QUEUE_ALERT_DIGESTS: "email",
    QUEUE_QUESTIONNAIRES: "email",
    # Posting to partners' case systems is delivery, like email: never in routing's way.
    SEND_TO_CASE_SYSTEMS: "email",
    SWEEP_CASE_SYSTEMS: "email",
    READ_CASE_SYSTEM_UPDATES: "email",
}


def make_celery(settings: Settings, *, include: tuple[str, ...] = ()) -> Celery:
    """A Celery app on Redis, JSON only, acknowledging tasks only once they are done."""
    celery = Celery("safer_streets", broker=settings.redis_url, include=list(include))
    queues = Queues.for_settings(settings)
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # A task is acknowledged after it ran, so a killed worker's task is redelivered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queues.routing,
        # A worker started without -Q serves all three (development, tests); production runs a
        # routing worker (-Q <queue>) and an email+slow worker (-Q <queue>.email,<queue>.slow).
        task_queues=[Queue(name, routing_key=name) for name in queues.all()],
        task_routes={
            task: {"queue": getattr(queues, kind), "routing_key": getattr(queues, kind)}
            for task, kind in TASK_QUEUES.items()
        },
        broker_connection_retry_on_startup=True,
        # Redelivery of an unacknowledged task waits for the visibility timeout; tasks here
        # take well under a second, so the default five minutes is a safe bound on how long a
        # lost task stays invisible (https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html).
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_seconds,
            # Look for expired unacknowledged tasks well within one timeout (kombu's default
            # scans only every 100 s).
            "unacked_restore_interval": min(10, max(1, settings.visibility_timeout_seconds // 3)),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 1,
            "socket_timeout": 2,
            # A worker serving several queues always takes from the first non-empty one in
            # its list (routing first), instead of kombu's default round robin.
            "queue_order_strategy": "priority",
        },
        # The web must never hang on a broken broker: fail fast, the sweep enqueues later.
        task_publish_retry=False,
        beat_schedule={
            "sweep-received": {
                "task": SWEEP_RECEIVED,
                "schedule": float(settings.sweep_every_seconds),
            },
            # Sends the emails that are due: retries after backoff, and any the queue lost.
            "sweep-outbox": {
                "task": SWEEP_OUTBOX,
                "schedule": float(settings.outbox_sweep_every_seconds),
            },
            # Posts to partners' case systems that are due (retries after backoff, any the
            # queue lost, reports re-routed or located by hand), and the updates made there.
            "sweep-case-systems": {
                "task": SWEEP_CASE_SYSTEMS,
                "schedule": float(settings.open311_sweep_every_seconds),
            },
            "read-case-system-updates": {
                "task": READ_CASE_SYSTEM_UPDATES,
                "schedule": float(settings.open311_updates_every_seconds),
            },
            # Hourly: each digest-choosing partner gets one after 07:00 London time.
            "queue-digests": {"task": QUEUE_DIGESTS, "schedule": 3600.0},
            # The board's hotspot runs, recomputed at night when the system is quiet.
            "nightly-hotspot-runs": {
                "task": NIGHTLY_HOTSPOT_RUNS,
                "schedule": crontab(hour=2, minute=30),
            },
            # Residents' area alerts: new public reports matched every minute and sent at once
            # to those who asked; hourly, daily digests (after 07:00) and unconfirmed
            # subscriptions forgotten.
            "match-alerts": {"task": MATCH_ALERTS, "schedule": 60.0},
            "queue-alert-digests": {"task": QUEUE_ALERT_DIGESTS, "schedule": 3600.0},
            # "Is it fixed?" to reporters whose reports were resolved some weeks ago.
            "queue-questionnaires": {"task": QUEUE_QUESTIONNAIRES, "schedule": 3600.0},
            "compact-queue-counts": {
                "task": COMPACT_QUEUE_COUNTS,
                "schedule": float(settings.queue_count_compact_every_seconds),
            },
            "expire-personal-data": {
                "task": EXPIRE_PERSONAL_DATA,
                "schedule": crontab(hour=3, minute=15),
            },
        },
    )
    return celery


class QueuedMarks:
    """Short-lived Redis keys saying "a message for this report is already queued".

    The publisher marks the ids it sends; the sweep claims a mark (SET NX) before re-enqueuing
    a report, so a report whose message merely waits behind others is not queued again and
    again; the worker clears the marks when it is done. A mark expires after the visibility
    timeout, by when a message lost with a killed worker is back anyway; marks lost with Redis
    go with the messages they stood for, so the sweep re-enqueues exactly those reports.
    """

    def __init__(self, client: redis.Redis, queue: str, ttl_seconds: int) -> None:
        self.client = client
        self.prefix = f"{queue}:queued:"
        self.ttl = max(1, ttl_seconds)

    @classmethod
    def for_settings(cls, settings: Settings) -> QueuedMarks:
        """Marks in the broker's Redis, named after the routing queue."""
        return cls(
            make_redis(settings.redis_url),
            settings.celery_queue,
            settings.visibility_timeout_seconds,
        )

    def mark(self, report_ids: Collection[int]) -> None:
        """Note that a message for these reports was just published."""
        pipe = self.client.pipeline(transaction=False)
        for report_id in report_ids:
            pipe.set(f"{self.prefix}{report_id}", 1, ex=self.ttl)
        pipe.execute()

    def claim(self, report_ids: Collection[int]) -> list[int]:
        """Those of the reports with no message queued, marked now as about to have one."""
        ids = list(report_ids)
        pipe = self.client.pipeline(transaction=False)
        for report_id in ids:
            pipe.set(f"{self.prefix}{report_id}", 1, ex=self.ttl, nx=True)
        return [report_id for report_id, fresh in zip(ids, pipe.execute(), strict=True) if fresh]

    def clear(self, report_ids: Collection[int]) -> None:
        """The worker is done with these reports: a later sweep may enqueue them again."""
        if report_ids:
            self.client.delete(*(f"{self.prefix}{report_id}" for report_id in report_ids))


PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


class TaskQueue:
    """Sends work to the worker by task name, off the request path.

    Report ids are published by one background thread per process, so a slow or stopped Redis
    never delays a resident's submission. Ids that arrive while a message is being published go
    together in the next one: one report at a time when it is quiet, batches in a burst, so the
    worker routes a burst against one read of the routing rules. A failed publish is logged and
    the sweep re-enqueues the reports later (they are already committed).
    """

    MAX_BATCH = 200
    MAX_PENDING = 10_000

    def __init__(self, celery: Celery, marks: QueuedMarks | None = None) -> None:
        self.celery = celery
        self.marks = marks
        self._pending: list[int] = []
        self._ready = threading.Condition()
        self._publisher_pid: int | None = None

    def process_report(self, report_id: int) -> bool:
        """Queue a report for processing; False when the backlog is full (the sweep will do it)."""
        with self._ready:
            if len(self._pending) >= self.MAX_PENDING:
                return False
            self._pending.append(report_id)
            if self._publisher_pid != os.getpid():
                # Started here, not in __init__, so that each forked web worker has its own.
                self._publisher_pid = os.getpid()
                threading.Thread(target=self._publish_forever, name="publish", daemon=True).start()
            self._ready.notify()
        return True

    def _publish_forever(self) -> None:
        # Celery's own message, sent to the routing queue named outright on a connection this
        # thread holds for good. ``send_task`` would also route each message again, take a
        # producer from the pool kombu shares with every Celery app on the broker (holding one
        # of those for good starved the health check's ping) and make a result nobody reads:
        # more work than publishing the message.
        amqp = self.celery.amqp
        route = self.celery.conf.task_routes[PROCESS_REPORTS]
        with self.celery.connection_for_write() as connection:
            producer = amqp.Producer(connection, auto_declare=False)
            while True:
                with self._ready:
                    while not self._pending:
                        self._ready.wait()
                    batch = self._pending[: self.MAX_BATCH]
                    del self._pending[: self.MAX_BATCH]
                message = amqp.create_task_message(
                    uuid(), PROCESS_REPORTS, [batch], {}, reply_to=self.celery.thread_oid
                )
                try:
                    # A connection Redis dropped (it restarted) is made again at once rather
                    # than the reports waiting for the sweep; this thread is off the request
                    # path.
                    amqp.send_task_message(
                        producer,
                        PROCESS_REPORTS,
                        message,
                        retry=True,
                        retry_policy=PUBLISH_RETRY,
                        **route,
                    )
                except Exception:
                    logger.warning("Could not enqueue %d reports; the sweep will retry", len(batch))
                    continue
                if self.marks is not None:
                    # Without marks the sweep may enqueue these again: harmless (idempotent).
                    with contextlib.suppress(redis.RedisError):
                        self.marks.mark(batch)

    def compute_hotspot_run(self, run_id: int) -> bool:
        """Ask the worker to compute a queued hotspot run; False when the broker is down."""
        try:
            self.celery.send_task(COMPUTE_HOTSPOT_RUN, args=[run_id])
        except Exception:
            logger.warning("Could not enqueue hotspot run %s", run_id)
            return False
        return True

    def send_to_case_systems(self, send_ids: list[int]) -> None:
        """Ask the worker to post reports to partners' case systems; the sweep catches any
        not enqueued."""
        if not send_ids:
            return
        try:
            self.celery.send_task(SEND_TO_CASE_SYSTEMS, args=[list(send_ids)])
        except Exception:
            logger.warning("Could not enqueue %d case-system posts; the sweep will", len(send_ids))

    def send_emails(self, outbox_ids: list[int] | tuple[int, ...]) -> None:
        """Ask the worker to send outbox emails, as one message; the outbox sweep catches any
        not enqueued."""
        if not outbox_ids:
            return
        try:
            self.celery.send_task(SEND_EMAILS, args=[list(outbox_ids)])
        except Exception:
            logger.warning("Could not enqueue %d emails; the outbox sweep will", len(outbox_ids))
