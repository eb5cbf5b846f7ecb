"""The Celery configuration shared by the web (which only sends) and the worker."""

from __future__ import annotations

import logging

from celery import Celery
from celery.schedules import crontab

from safer_streets.settings import Settings

logger = logging.getLogger(__name__)

PROCESS_REPORT = "workers.process_report"
SWEEP_RECEIVED = "workers.sweep_received"
COMPUTE_HOTSPOT_RUN = "workers.compute_hotspot_run"
NIGHTLY_HOTSPOT_RUNS = "workers.nightly_hotspot_runs"


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
        # take well under a second, so five minutes is a safe bound on how long a lost
        # task stays invisible (https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html).
        broker_transport_options={
            "visibility_timeout": 300,
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
            # The board's hotspot runs, recomputed at night when the system is quiet.
            "nightly-hotspot-runs": {
                "task": NIGHTLY_HOTSPOT_RUNS,
                "schedule": crontab(hour=2, minute=30),
            },
        },
    )
    return celery


class TaskQueue:
    """Sends work to the worker by task name; a broker failure is logged, never raised."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def process_report(self, report_id: int) -> bool:
        """Ask the worker to process a report; False when the broker could not be reached."""
        try:
            self.celery.send_task(PROCESS_REPORT, args=[report_id])
        except Exception:
            # The report is committed; the sweep re-enqueues it once the broker is back.
            logger.warning("Could not enqueue report %s; the sweep will retry", report_id)
            return False
        return True

    def compute_hotspot_run(self, run_id: int) -> bool:
        """Ask the worker to compute a queued hotspot run; False when the broker is down."""
        try:
            self.celery.send_task(COMPUTE_HOTSPOT_RUN, args=[run_id])
        except Exception:
            logger.warning("Could not enqueue hotspot run %s", run_id)
            return False
        return True
