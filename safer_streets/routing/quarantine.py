"""Reports whose routing keeps failing: counted, set aside as ``needs_attention``, retried.

A report that makes routing raise (bad data, a bug in a rule's code path) is not the
database being down: retrying it forever would fail every batch it joins and fill the logs.
Each failure is recorded against the report; after ``max_attempts`` the report becomes
``needs_attention``, which the sweep and the batches never pick up, and an admin puts it back
to ``received`` once the cause is fixed. Both moves are report events.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safer_streets.errors import Conflict, NotAllowed
from safer_streets.models import ProcessingFailure, Report, ReportEvent, ReportStatus, Role, User

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000


def error_kind(error: BaseException) -> str:
    """The exception's class as a reader would look it up: ``KeyError``, ``mymod.MyError``."""
    cls = type(error)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def error_message(error: BaseException) -> str:
    """The exception's message, bounded (a message can carry a whole SQL statement)."""
    return (str(error) or repr(error))[:MAX_MESSAGE_CHARS]


def record_failure(
    session: Session,
    report_id: int,
    error: BaseException,
    *,
    max_attempts: int,
    now: datetime | None = None,
) -> ProcessingFailure:
    """Count a failed attempt to route a report; at ``max_attempts`` set the report aside.

    The caller holds the report's row lock (the worker's batch does), so two workers never
    count the same attempt twice.
    """
    now = now or datetime.now(UTC)
    failure = session.get(ProcessingFailure, report_id)
    if failure is None:
        failure = ProcessingFailure(report_id=report_id, attempts=0, first_failed_at=now)
        session.add(failure)
    failure.attempts += 1
    failure.error_kind = error_kind(error)[:200]
    failure.error_message = error_message(error)
    failure.last_failed_at = now
    report = session.get_one(Report, report_id)
    if failure.attempts >= max_attempts and report.status is ReportStatus.RECEIVED:
        report.status = ReportStatus.NEEDS_ATTENTION
        session.add(
            ReportEvent(
                report_id=report_id,
                kind="needs_attention",
                from_status=ReportStatus.RECEIVED,
                to_status=ReportStatus.NEEDS_ATTENTION,
                note=(
                    f"Routing failed {failure.attempts} times; set aside for an admin to retry. "
                    f"Last error: {failure.error_kind}: {failure.error_message}"
                ),
                data=_failure_data(failure),
            )
        )
        logger.error(
            "Report %s set aside as needs_attention after %d failed attempts: %s: %s",
            report.reference,
            failure.attempts,
            failure.error_kind,
            failure.error_message,
        )
    else:
        logger.warning(
            "Report %s could not be routed (attempt %d of %d): %s: %s",
            report.reference,
            failure.attempts,
            max_attempts,
            failure.error_kind,
            failure.error_message,
        )
    session.flush()
    return failure


def _failure_data(failure: ProcessingFailure) -> dict[str, object]:
    return {
        "attempts": failure.attempts,
        "error_kind": failure.error_kind,
        "error_message": failure.error_message,
        "first_failed_at": failure.first_failed_at.isoformat(),
        "last_failed_at": failure.last_failed_at.isoformat(),
    }


@dataclass(frozen=True)
class SetAside:
    """A report waiting for an admin, with why routing it failed."""

    report: Report
    failure: ProcessingFailure | None


def needs_attention(session: Session, limit: int = 500) -> list[SetAside]:
    """Reports set aside, the longest waiting first, each with its last error."""
    rows = session.execute(
        select(Report, ProcessingFailure)
        .outerjoin(ProcessingFailure, ProcessingFailure.report_id == Report.id)
        .where(Report.status == ReportStatus.NEEDS_ATTENTION)
        .order_by(Report.created_at, Report.id)
        .limit(limit)
    )
    return [SetAside(report, failure) for report, failure in rows]


def count_needs_attention(session: Session) -> int:
    """How many reports wait for an admin to retry them."""
    waiting = select(func.count()).where(Report.status == ReportStatus.NEEDS_ATTENTION)
    return session.scalar(waiting) or 0


def retry(session: Session, report: Report, actor: User) -> ReportEvent:
    """Put a report set aside back to ``received``, with as many attempts as at first.

    The caller enqueues it after committing; the sweep would find it anyway. The event keeps
    the error it had, since the failure record is removed.
    """
    if not actor.active or actor.role is not Role.ADMIN:
        raise NotAllowed("only an admin can retry a report")
    if report.status is not ReportStatus.NEEDS_ATTENTION:
        raise Conflict(
            f"{report.reference} is not waiting to be retried (it is {report.status.value})"
        )
    failure = session.get(ProcessingFailure, report.id)
    data = _failure_data(failure) if failure is not None else {}
    if failure is not None:
        session.delete(failure)
    event = ReportEvent(
        report_id=report.id,
        actor=actor,
        kind="retried",
        from_status=ReportStatus.NEEDS_ATTENTION,
        to_status=ReportStatus.RECEIVED,
        note="Put back for routing by an admin.",
        data=data,
    )
    session.add(event)
    report.status = ReportStatus.RECEIVED
    session.flush()
    logger.info("Report %s put back for routing by %s", report.reference, actor.email)
    return event
