"""The Celery configuration shared by the web (which only sends) and the worker."""

from __future__ import annotations

import logging
import os
import threading

from celery import Celery
from celery.schedules import crontab

from safer_streets.settings import Settings

logger = logging.getLogger(__name__)

PROCESS_REPORTS = "workers.process_reports"
SWEEP_RECEIVED = "workers.sweep_received"
SEND_EMAIL = "workers.send_email"
SEND_EMAILS = "workers.send_emails"
SWEEP_OUTBOX = "workers.sweep_outbox"
QUEUE_DIGESTS = "workers.queue_digests"
COMPUTE_HOTSPOT_RUN = "workers.compute_hotspot_run"
NIGHTLY_HOTSPOT_RUNS = "workers.nightly_hotspot_runs"
EXPIRE_PERSONAL_DATA = "workers.expire_personal_data"


def make_celery(settings: Settings, *, include: tuple[str, ...] = ()) -> Celery:
    """A Celery app on Redis, JSON only, acknowledging tasks only once they are done."""
    celery = Celery("safer_streets", broker=settings.redis_url, include=list(include))
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # A task is acknowledged after it ran, so a killed worker's task is redelivered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.celery_queue,
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
        },
        # The web must never hang on a broken broker: fail fast, the sweep enqueues later.
        task_publish_retry=False,
        beat_schedule={
            "sweep-received": {
                "task": SWEEP_RECEIVED,
                "schedule": float(settings.sweep_every_seconds),
            },
            "sweep-outbox": {"task": SWEEP_OUTBOX, "schedule": 60.0},
            # Hourly: each digest-choosing partner gets one after 07:00 London time.
            "queue-digests": {"task": QUEUE_DIGESTS, "schedule": 3600.0},
            # The board's hotspot runs, recomputed at night when the system is quiet.
            "nightly-hotspot-runs": {
                "task": NIGHTLY_HOTSPOT_RUNS,
                "schedule": crontab(hour=2, minute=30),
            },
            "expire-personal-data": {
                "task": EXPIRE_PERSONAL_DATA,
                "schedule": crontab(hour=3, minute=15),
            },
        },
    )
    return celery


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

    def __init__(self, celery: Celery) -> None:
        self.celery = celery
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
        while True:
            with self._ready:
                while not self._pending:
                    self._ready.wait()
                batch = self._pending[: self.MAX_BATCH]
                del self._pending[: self.MAX_BATCH]
            try:
                # A connection Redis dropped (it restarted) is made again at once rather than
                # the reports waiting for the sweep; this thread is off the request path.
                self.celery.send_task(
                    PROCESS_REPORTS, args=[batch], retry=True, retry_policy=PUBLISH_RETRY
                )
            except Exception:
                logger.warning("Could not enqueue %d reports; the sweep will retry", len(batch))

    def compute_hotspot_run(self, run_id: int) -> bool:
        """Ask the worker to compute a queued hotspot run; False when the broker is down."""
        try:
            self.celery.send_task(COMPUTE_HOTSPOT_RUN, args=[run_id])
        except Exception:
            logger.warning("Could not enqueue hotspot run %s", run_id)
            return False
        return True

    def send_emails(self, outbox_ids: list[int] | tuple[int, ...]) -> None:
        """Ask the worker to send outbox emails; the outbox sweep catches any not enqueued."""
        for outbox_id in outbox_ids:
            try:
                self.celery.send_task(SEND_EMAIL, args=[outbox_id])
            except Exception:
                logger.warning("Could not enqueue email %s; the outbox sweep will", outbox_id)
                return
