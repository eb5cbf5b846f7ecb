"""Thin tasks: ids in, one domain call, retry policy out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cached_property

from celery import current_app, shared_task
from shapely.geometry.base import BaseGeometry
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from geo import hotspots
from geo.wards import WardIndex
from safer_streets import board, privacy, reports
from safer_streets.db import make_engine, make_session_factory, session_scope
from safer_streets.settings import Settings
from safer_streets.tasks_queue import (
    COMPUTE_HOTSPOT_RUN,
    EXPIRE_PERSONAL_DATA,
    NIGHTLY_HOTSPOT_RUNS,
    PROCESS_REPORT,
    SWEEP_RECEIVED,
)

logger = logging.getLogger(__name__)


class WorkerContext:
    """What tasks need, created lazily so that each forked worker process has its own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        """Sessions on this process's own engine."""
        return make_session_factory(make_engine(self.settings.database_url))

    @cached_property
    def wards(self) -> WardIndex:
        """The active wards from the database, as a shapely index held in memory."""
        with session_scope(self.session_factory) as session:
            return reports.load_ward_index(session)

    @cached_property
    def places(self) -> reports.Places:
        """The shipped place data with the configured geocoder."""
        return reports.Places.for_settings(self.settings)

    @cached_property
    def study_area(self) -> BaseGeometry:
        """The borough outline: hotspot statistics are computed inside it only."""
        return hotspots.read_boundary()


_context: WorkerContext | None = None


def configure(settings: Settings) -> WorkerContext:
    """Point the tasks at a database (the worker entry point and tests call this)."""
    global _context
    _context = WorkerContext(settings)
    return _context


def context() -> WorkerContext:
    """The configured context, or one from the environment."""
    return _context or configure(Settings.from_env())


@shared_task(
    name=PROCESS_REPORT,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=8,
)
def process_report(report_id: int) -> bool:
    """Geocode and route one report; safe to run twice."""
    ctx = context()
    with session_scope(ctx.session_factory) as session:
        return reports.process_report(session, report_id, ctx.wards, ctx.places)


@shared_task(name=SWEEP_RECEIVED, autoretry_for=(OperationalError,), max_retries=3)
def sweep_received() -> int:
    """Re-enqueue reports left in ``received`` (Redis was down, a message was lost)."""
    ctx = context()
    with session_scope(ctx.session_factory) as session:
        ids = reports.stale_received_ids(session, ctx.settings.sweep_after_seconds)
    for report_id in ids:
        current_app.send_task(PROCESS_REPORT, args=[report_id])
    if ids:
        logger.info("Swept %d received reports back onto the queue", len(ids))
    return len(ids)


@shared_task(
    name=COMPUTE_HOTSPOT_RUN, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5
)
def compute_hotspot_run(run_id: int) -> bool:
    """Compute and store one hotspot run; a run that cannot be computed is marked failed."""
    ctx = context()
    try:
        with session_scope(ctx.session_factory) as session:
            return board.compute_run(session, run_id, study_area=ctx.study_area)
    except OperationalError:
        raise
    except Exception as error:
        logger.exception("Hotspot run %s failed", run_id)
        with session_scope(ctx.session_factory) as session:
            board.mark_run_failed(session, run_id, f"{type(error).__name__}: {error}")
        return False


@shared_task(name=NIGHTLY_HOTSPOT_RUNS, autoretry_for=(OperationalError,), max_retries=3)
def nightly_hotspot_runs() -> int:
    """Queue the nightly runs (all categories, each category, after dark) and prune old ones."""
    ctx = context()
    with session_scope(ctx.session_factory) as session:
        ids = board.schedule_nightly_runs(
            session,
            today=datetime.now(UTC).astimezone(board.LONDON).date(),
            permutations=ctx.settings.hotspot_permutations,
            seed=ctx.settings.hotspot_seed,
        )
        pruned = board.prune_runs(session)
    for run_id in ids:
        current_app.send_task(COMPUTE_HOTSPOT_RUN, args=[run_id])
    logger.info("Queued %d nightly hotspot runs; pruned %d old runs", len(ids), pruned)
    return len(ids)


@shared_task(name=EXPIRE_PERSONAL_DATA, autoretry_for=(OperationalError,), max_retries=3)
def expire_personal_data() -> int:
    """Remove reporters' contact details and photos once the retention period has passed."""
    ctx = context()
    total = 0
    while True:
        with session_scope(ctx.session_factory) as session:
            result = privacy.expire_personal_data(
                session, retention_days=ctx.settings.retention_days, now=datetime.now(UTC)
            )
        total += result.reports
        if result.reports == 0:
            break
    if total:
        logger.info("Removed personal data from %d closed reports", total)
    return total
