"""Thin tasks: ids in, one domain call, retry policy out."""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC, datetime, timedelta
from functools import cached_property

import redis
from celery import current_app, shared_task
from shapely.geometry.base import BaseGeometry
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from geo import projection
from geo.suntimes import LONDON
from geo.wards import WardIndex
from safer_streets.board import runs
from safer_streets.casework import counts
from safer_streets.db import make_engine, make_session_factory, session_scope
from safer_streets.models import AlertFrequency
from safer_streets.notifications import outbox
from safer_streets.open311 import outbound
from safer_streets.open311.client import Open311Error
from safer_streets.places import Places, load_ward_index
from safer_streets.privacy import retention
from safer_streets.residents import alerts, questionnaire
from safer_streets.residents import supporters as _supporters  # noqa: F401 - its composer
from safer_streets.routing import processing
from safer_streets.settings import Settings
from workers.queue import (
    COMPACT_QUEUE_COUNTS,
    COMPUTE_HOTSPOT_RUN,
    COMPUTE_HOTSPOT_RUNS,
    EXPIRE_PERSONAL_DATA,
    MATCH_ALERTS,
    NIGHTLY_HOTSPOT_RUNS,
    PROCESS_REPORTS,
    QUEUE_ALERT_DIGESTS,
    QUEUE_DIGESTS,
    QUEUE_QUESTIONNAIRES,
    READ_CASE_SYSTEM_UPDATES,
    SEND_EMAIL,
    SEND_EMAILS,
    SEND_TO_CASE_SYSTEMS,
    SWEEP_CASE_SYSTEMS,
    SWEEP_OUTBOX,
    SWEEP_RECEIVED,
    QueuedMarks,
)

logger = logging.getLogger(__name__)
# Small enough that both worker processes share a swept backlog.
SWEEP_BATCH = 100
# Reports already waiting that a routing task takes along with its own.
ALSO_WAITING = 200


class WorkerContext:
    """What tasks need, created lazily so that each forked worker process has its own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        """Sessions on this process's own engine."""
        return make_session_factory(make_engine(self.settings.database_url))

    @cached_property
    def mailer(self) -> outbox.SmtpMailer:
        """The SMTP server from the settings."""
        return outbox.SmtpMailer.from_settings(self.settings)

    @cached_property
    def marks(self) -> QueuedMarks:
        """Which reports have a routing message queued (the sweep skips those)."""
        return QueuedMarks.for_settings(self.settings)

    def retry_policy(self) -> dict[str, int]:
        """The backoff of failed sends, from the settings."""
        return {
            "base_seconds": self.settings.email_retry_base_seconds,
            "max_seconds": self.settings.email_retry_max_seconds,
        }

    @cached_property
    def case_systems(self) -> outbound.ClientFor:
        """Open311 clients for partners' case systems, with the configured timeout."""
        return outbound.client_factory(self.settings.open311_timeout_seconds)

    def open311_retry(self) -> outbound.RetryPolicy:
        """The backoff of failed posts, from the settings."""
        return outbound.RetryPolicy(
            self.settings.open311_retry_base_seconds, self.settings.open311_retry_max_seconds
        )

    @cached_property
    def wards(self) -> WardIndex:
        """The active wards from the database, as a shapely index held in memory."""
        with session_scope(self.session_factory) as session:
            return load_ward_index(session)

    @cached_property
    def routing_data(self) -> processing.RoutingDataCache:
        """The rules, wards, areas and service levels, reloaded only when they change."""
        return processing.RoutingDataCache()

    @cached_property
    def places(self) -> Places:
        """The shipped place data with the configured geocoder."""
        return Places.for_settings(self.settings)

    @cached_property
    def study_area(self) -> BaseGeometry:
        """The borough outline: hotspot statistics are computed inside it only."""
        return projection.read_boundary()


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
    name=PROCESS_REPORTS,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=8,
)
def process_reports(report_ids: list[int]) -> int:
    """Geocode and route a batch of reports in one transaction; safe to run twice.

    A report that cannot be routed does not fail the task: the domain routes the others and
    records its failure (``routing.quarantine``).
    """
    ctx = context()
    with session_scope(ctx.session_factory) as session:
        routed = processing.process_reports(
            session,
            report_ids,
            ctx.wards,
            ctx.places,
            ctx.routing_data,
            also_waiting=ALSO_WAITING,
            max_attempts=ctx.settings.processing_max_attempts,
        )
    # Done with these ids: one that is still `received` (its routing failed) may be swept again.
    try:
        ctx.marks.clear(report_ids)
    except redis.RedisError:
        logger.warning("Could not clear the queued marks of %d reports", len(report_ids))
    if routed:
        # Only now are the outbox rows committed; sending never holds up routing.
        with session_scope(ctx.session_factory) as session:
            _send_later(outbox.unsent_ids(session, report_ids=routed))
        _post_to_case_systems(report_ids=routed)
    return len(routed)


@shared_task(name=SWEEP_RECEIVED, autoretry_for=(OperationalError,), max_retries=3)
def sweep_received() -> int:
    """Re-enqueue reports left in ``received`` (Redis was down, a message was lost)."""
    ctx = context()
    with session_scope(ctx.session_factory) as session:
        stale = processing.stale_received_ids(session, ctx.settings.sweep_after_seconds)
    try:
        # Only reports with no message queued: one waiting behind others is not queued again.
        ids = ctx.marks.claim(stale) if stale else []
    except redis.RedisError:
        ids = stale  # cannot tell; enqueueing twice is harmless (routing is idempotent)
    for start in range(0, len(ids), SWEEP_BATCH):
        current_app.send_task(PROCESS_REPORTS, args=[ids[start : start + SWEEP_BATCH]])
    if ids:
        logger.info("Swept %d received reports back onto the queue", len(ids))
    return len(ids)


def _send_later(outbox_ids: list[int]) -> None:
    for start in range(0, len(outbox_ids), SWEEP_BATCH):
        current_app.send_task(SEND_EMAILS, args=[outbox_ids[start : start + SWEEP_BATCH]])


# A refused connection, a timeout or a 4xx from the server: the email is tried again later.
TRANSIENT_EMAIL_ERRORS = (smtplib.SMTPException, OSError)


def _record_failure(outbox_ids: list[int], error: BaseException) -> None:
    """The outbox row records the failure and its next attempt; the outbox sweep re-drives it.

    No retry message is published: with the mail server down, per-email retries would fill
    the broker (thousands of messages) and keep the email worker busy for nothing.
    """
    ctx = context()
    logger.warning("%d emails not sent yet: %s", len(outbox_ids), error)
    with session_scope(ctx.session_factory) as session:
        outbox.record_failure(session, outbox_ids, error, **ctx.retry_policy())


@shared_task(name=SEND_EMAIL, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def send_email(outbox_id: int) -> bool:
    """Send one outbox email; a redelivery or a retry after success sends nothing."""
    ctx = context()
    try:
        with session_scope(ctx.session_factory) as session:
            return outbox.deliver(session, outbox_id, ctx.mailer, ctx.settings, datetime.now(UTC))
    except TRANSIENT_EMAIL_ERRORS as error:
        _record_failure([outbox_id], error)
        return False


@shared_task(name=SEND_EMAILS, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def send_emails(outbox_ids: list[int]) -> int:
    """Send several outbox emails over one SMTP session; those not sent wait for the sweep."""
    ctx = context()
    sent, remaining = 0, list(outbox_ids)
    try:
        with ctx.mailer.connected() as connection:
            while remaining:
                with session_scope(ctx.session_factory) as session:
                    sent += outbox.deliver(
                        session, remaining[0], connection, ctx.settings, datetime.now(UTC)
                    )
                remaining.pop(0)
    except TRANSIENT_EMAIL_ERRORS as error:
        # Every email of the batch not sent had its attempt fail (mostly: no connection).
        _record_failure(remaining, error)
    return sent


@shared_task(name=SWEEP_OUTBOX, autoretry_for=(OperationalError,), max_retries=3)
def sweep_outbox() -> int:
    """Hand the emails that are due to a worker: retries whose backoff has passed, and any the
    queue lost. Leased rows are skipped, so the broker holds one message per batch at most."""
    ctx = context()
    now = datetime.now(UTC)
    with session_scope(ctx.session_factory) as session:
        ids = outbox.claim_due(
            session,
            now,
            never_tried_after=timedelta(seconds=ctx.settings.outbox_sweep_after_seconds),
            lease=timedelta(seconds=ctx.settings.visibility_timeout_seconds),
        )
    _send_later(ids)
    return len(ids)


def _post_to_case_systems(report_ids: list[int] | None = None) -> int:
    """Write the posts due to partners' case systems, lease them and hand them to a worker."""
    ctx = context()
    now = datetime.now(UTC)
    with session_scope(ctx.session_factory) as session:
        outbound.queue_unsent(session, report_ids=report_ids)
        ids = outbound.claim_due(
            session,
            now,
            lease=timedelta(seconds=ctx.settings.visibility_timeout_seconds),
            report_ids=report_ids,
        )
    for start in range(0, len(ids), SWEEP_BATCH):
        current_app.send_task(SEND_TO_CASE_SYSTEMS, args=[ids[start : start + SWEEP_BATCH]])
    return len(ids)


@shared_task(
    name=SEND_TO_CASE_SYSTEMS, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5
)
def send_to_case_systems(send_ids: list[int]) -> int:
    """Post reports to partners' case systems, each in its own transaction; a failed post
    records its error and backoff, and the sweep tries it again when it is due."""
    ctx = context()
    sent = 0
    for send_id in send_ids:
        try:
            with session_scope(ctx.session_factory) as session:
                sent += outbound.send(
                    session, send_id, ctx.case_systems, datetime.now(UTC), ctx.open311_retry()
                )
        except OperationalError:
            raise
        except Exception as error:
            logger.exception("Posting case-system row %s failed", send_id)
            with session_scope(ctx.session_factory) as session:
                outbound.record_failure(
                    session, send_id, error, datetime.now(UTC), ctx.open311_retry()
                )
    return sent


@shared_task(name=SWEEP_CASE_SYSTEMS, autoretry_for=(OperationalError,), max_retries=3)
def sweep_case_systems() -> int:
    """Hand the posts that are due to a worker: new ones (a report re-routed or located by
    hand), retries whose backoff has passed, and any the queue lost."""
    return _post_to_case_systems()


@shared_task(name=READ_CASE_SYSTEM_UPDATES, autoretry_for=(OperationalError,), max_retries=3)
def read_case_system_updates() -> int:
    """Read each Open311 partner's updates into its reports' histories; a partner whose server
    cannot be read is tried at the next run, from where its last good read left off."""
    ctx = context()
    lookback = timedelta(hours=ctx.settings.open311_updates_lookback_hours)
    with session_scope(ctx.session_factory) as session:
        partner_ids = outbound.open311_partners(session)
    applied = 0
    for partner_id in partner_ids:
        try:
            with session_scope(ctx.session_factory) as session:
                read = outbound.fetch_updates(
                    session, partner_id, ctx.case_systems, datetime.now(UTC), lookback=lookback
                )
        except Open311Error as error:
            logger.warning("Could not read the updates of partner %s: %s", partner_id, error)
            with session_scope(ctx.session_factory) as session:
                outbound.record_read_failure(session, partner_id, error)
            continue
        applied += read.applied
        _send_later(list(read.emails))
    return applied


@shared_task(name=QUEUE_DIGESTS, autoretry_for=(OperationalError,), max_retries=3)
def queue_digests() -> int:
    """Write today's digests for partners who chose them, then send them."""
    ctx = context()
    with session_scope(ctx.session_factory) as session:
        ids = outbox.queue_digests(session, datetime.now(UTC))
    _send_later(ids)
    return len(ids)


@shared_task(name=MATCH_ALERTS, autoretry_for=(OperationalError,), max_retries=3)
def match_alerts() -> int:
    """Match newly routed public reports to residents' alerts and send the immediate ones.

    Matching and writing the emails share one transaction, so a report is matched and its
    email written together or not at all; each (subscription, report) pair is matched once.
    """
    ctx = context()
    now = datetime.now(UTC)
    with session_scope(ctx.session_factory) as session:
        alerts.match_new_reports(session, now)
        ids = alerts.queue_alert_emails(session, now, AlertFrequency.IMMEDIATE)
    _send_later(ids)
    return len(ids)


@shared_task(name=QUEUE_ALERT_DIGESTS, autoretry_for=(OperationalError,), max_retries=3)
def queue_alert_digests() -> int:
    """Write today's alert digests (after 07:00 London time) and forget unconfirmed alerts."""
    ctx = context()
    now = datetime.now(UTC)
    with session_scope(ctx.session_factory) as session:
        alerts.match_new_reports(session, now)
        ids = alerts.queue_alert_emails(session, now, AlertFrequency.DAILY)
        alerts.forget_unconfirmed(session, now)
    _send_later(ids)
    return len(ids)


@shared_task(name=QUEUE_QUESTIONNAIRES, autoretry_for=(OperationalError,), max_retries=3)
def queue_questionnaires() -> int:
    """Ask reporters whose reports were resolved some weeks ago whether they are fixed."""
    ctx = context()
    after = timedelta(days=ctx.settings.questionnaire_after_days)
    with session_scope(ctx.session_factory) as session:
        ids = questionnaire.queue_questionnaires(session, datetime.now(UTC), after=after)
    _send_later(ids)
    return len(ids)


@shared_task(
    name=COMPUTE_HOTSPOT_RUN, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5
)
def compute_hotspot_run(run_id: int) -> bool:
    """Compute and store one hotspot run; a run that cannot be computed is marked failed."""
    ctx = context()
    try:
        with session_scope(ctx.session_factory) as session:
            return runs.compute_run(session, run_id, study_area=ctx.study_area)
    except OperationalError:
        raise
    except Exception as error:
        logger.exception("Hotspot run %s failed", run_id)
        with session_scope(ctx.session_factory) as session:
            runs.mark_run_failed(session, run_id, f"{type(error).__name__}: {error}")
        return False


@shared_task(name=COMPUTE_HOTSPOT_RUNS, autoretry_for=(OperationalError,), max_retries=3)
def compute_hotspot_runs(run_ids: list[int]) -> int:
    """Compute the nightly runs together (``runs.compute_runs``: their reports are fetched
    once); a run that cannot be computed is marked failed and the others go on."""
    ctx = context()

    def failed(run_id: int, error: Exception) -> None:
        if isinstance(error, OperationalError):
            raise error
        logger.error("Hotspot run %s failed", run_id, exc_info=error)
        with session_scope(ctx.session_factory) as session:
            runs.mark_run_failed(session, run_id, f"{type(error).__name__}: {error}")

    return runs.compute_runs(
        lambda: session_scope(ctx.session_factory),
        run_ids,
        study_area=ctx.study_area,
        on_error=failed,
    )


@shared_task(name=NIGHTLY_HOTSPOT_RUNS, autoretry_for=(OperationalError,), max_retries=3)
def nightly_hotspot_runs() -> int:
    """Queue the nightly runs (``runs.nightly_filters``) and prune old ones."""
    ctx = context()
    with session_scope(ctx.session_factory) as session:
        ids = runs.schedule_nightly_runs(
            session,
            today=datetime.now(UTC).astimezone(LONDON).date(),
            permutations=ctx.settings.hotspot_permutations,
            seed=ctx.settings.hotspot_seed,
        )
        pruned = runs.prune_runs(session)
    if ids:
        current_app.send_task(COMPUTE_HOTSPOT_RUNS, args=[ids])
    logger.info("Queued %d nightly hotspot runs; pruned %d old runs", len(ids), pruned)
    return len(ids)


@shared_task(name=COMPACT_QUEUE_COUNTS, autoretry_for=(OperationalError,), max_retries=3)
def compact_queue_counts() -> int:
    """Sum the queue's stored counts (``counts.compact``); the rows left."""
    with session_scope(context().session_factory) as session:
        return counts.compact(session)


@shared_task(name=EXPIRE_PERSONAL_DATA, autoretry_for=(OperationalError,), max_retries=3)
def expire_personal_data() -> int:
    """Remove reporters' contact details and photos once the retention period has passed, and
    supporters' addresses once their report can no longer be reopened."""
    ctx = context()
    total = 0
    while True:
        with session_scope(ctx.session_factory) as session:
            result = retention.expire_personal_data(
                session, retention_days=ctx.settings.retention_days, now=datetime.now(UTC)
            )
        total += result.reports
        if result.reports == 0:
            break
    forgotten = 0
    while True:
        with session_scope(ctx.session_factory) as session:
            count = retention.forget_supporter_emails(
                session, closed_days=ctx.settings.reopen_within_days, now=datetime.now(UTC)
            )
        forgotten += count
        if count == 0:
            break
    if total:
        logger.info("Removed personal data from %d closed reports", total)
    if forgotten:
        logger.info("Forgot %d supporters' addresses of closed reports", forgotten)
    return total
