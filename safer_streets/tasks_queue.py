"""The Celery configuration shared by the web (which only sends) and the worker."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from celery import Celery
from celery.schedules import crontab

from safer_streets.settings import Settings

logger = logging.getLogger(__name__)

PROCESS_REPORT = "workers.process_report"
SWEEP_RECEIVED = "workers.sweep_received"
SEND_EMAIL = "workers.send_email"
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


class TaskQueue:
    """Sends work to the worker by task name, off the request path.

    Publishing happens on one background thread per process, so a slow or stopped Redis never
    delays a resident's submission; a failed publish is logged and the sweep re-enqueues the
    report later (it is already committed).
    """

    MAX_PENDING = 10_000

    def __init__(self, celery: Celery) -> None:
        self.celery = celery
        self._executor: ThreadPoolExecutor | None = None
        self._pending = 0
        self._lock = threading.Lock()

    def process_report(self, report_id: int) -> Future[bool] | None:
        """Queue a report for processing; None when the backlog is full (the sweep will do it)."""
        with self._lock:
            if self._pending >= self.MAX_PENDING:
                return None
            self._pending += 1
            if self._executor is None:
                # Created lazily so that each forked web worker gets its own thread.
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish")
            return self._executor.submit(self._publish, report_id)

    def _publish(self, report_id: int) -> bool:
        try:
            self.celery.send_task(PROCESS_REPORT, args=[report_id])
        except Exception:
            logger.warning("Could not enqueue report %s; the sweep will retry", report_id)
            return False
        finally:
            with self._lock:
                self._pending -= 1
        return True

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
