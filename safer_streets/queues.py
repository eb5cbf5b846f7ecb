"""Partner queues. Scoping lives here, not in templates: a partner sees only its reports."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from safer_streets.errors import NotFound
from safer_streets.models import Report, ReportNotifiedPartner, ReportStatus, Role, User

PAGE_SIZE = 50


def visible_reports(user: User) -> Select[tuple[Report]]:
    """A query for the reports this user may read: owned by or notified to their partner."""
    query = select(Report)
    if user.role in (Role.BOARD, Role.ADMIN):
        return query
    if user.partner_id is None:
        return query.where(False)
    notified = exists().where(
        ReportNotifiedPartner.report_id == Report.id,
        ReportNotifiedPartner.partner_id == user.partner_id,
    )
    return query.where(or_(Report.owner_partner_id == user.partner_id, notified))


@dataclass(frozen=True)
class QueuePage:
    """One page of a queue, with counts per status across the whole queue."""

    reports: list[Report]
    page: int
    pages: int
    total: int
    counts: dict[str, int]


def queue(
    session: Session, user: User, *, status: ReportStatus | None = None, page: int = 1
) -> QueuePage:
    """The user's queue, newest first, optionally filtered by status."""
    base = visible_reports(user)
    ids = base.with_only_columns(Report.id, Report.status).subquery()
    counts = {
        str(status_value): count
        for status_value, count in session.execute(
            select(ids.c.status, func.count()).group_by(ids.c.status)
        )
    }
    if status is not None:
        base = base.where(Report.status == status)
    total = counts.get(str(status), 0) if status is not None else sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    reports = session.scalars(
        base.order_by(Report.created_at.desc(), Report.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return QueuePage(list(reports), page, pages, total, counts)


def report_for(session: Session, user: User, reference: str) -> Report:
    """A report the user may read, or ``NotFound`` (never revealing that it exists)."""
    report = session.scalar(
        visible_reports(user).where(Report.reference == reference.strip().upper())
    )
    if report is None:
        raise NotFound(f"no report {reference!r} in your queue")
    return report
