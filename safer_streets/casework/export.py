"""A partner's queue as CSV, streamed in batches and guarded against formula injection."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    func,
    select,
)
from sqlalchemy.orm import Session, joinedload

from safer_streets.casework import sla
from safer_streets.casework.access import audience_among_visible, disclosures_among_visible
from safer_streets.casework.queues import (
    QueueFilters,
    queue_conditions,
    queue_order,
    resolve_filters,
)
from safer_streets.disclosure import access_log
from safer_streets.disclosure.policy import Disclosure, Location, disclose
from safer_streets.models import (
    Category,
    Report,
    ReportEvent,
    User,
)

EXPORT_BATCH = 1000
CSV_EXPORT = "queue CSV export"

# ---- CSV export --------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "reference",
    "received",
    "category",
    "ward",
    "street",
    "postcode",
    "status",
    "priority",
    "owner",
    "assigned_to",
    "acknowledge_due",
    "resolve_due",
    "breached",
    "latitude",
    "longitude",
    "description",
    "public_updates",
    "supporters",
    "contact_email",
)
PARTNER_WORDS = ("public_update", "acknowledged", "status_changed")
# Spreadsheet programs run cells that start with these as formulas (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def guard_cell(value: str) -> str:
    """Text a spreadsheet will show as text, never run as a formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, batch: int = EXPORT_BATCH
) -> Iterator[str]:
    """CSV text: the header, then one chunk per ``batch`` rows, so a response can stream it
    without holding every row in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _export_query(
    session: Session, user: User, filters: QueueFilters, now: datetime
) -> tuple[list[ColumnElement[bool]], Select[Any]]:
    conditions = queue_conditions(user, filters, resolve_filters(session, filters), now)
    statuses = filters.statuses()
    if statuses is not None:
        conditions.append(Report.status.in_(statuses))
    public_updates = (
        select(ReportEvent.report_id, func.count().label("n"))
        # What partners wrote to the resident: updates, and status changes with words
        # (the inspector form and Open311 status updates put them on the change).
        .where(ReportEvent.public, ReportEvent.kind.in_(PARTNER_WORDS))
        .group_by(ReportEvent.report_id)
        .subquery()
    )
    query = (
        select(Report, sla.breached(now), func.coalesce(public_updates.c.n, 0))
        .options(
            joinedload(Report.category),
            joinedload(Report.ward),
            joinedload(Report.owner),
            joinedload(Report.assigned_to),
        )
        .outerjoin(public_updates, public_updates.c.report_id == Report.id)
        .where(*conditions)
        .order_by(*queue_order(filters.sort))
        .execution_options(yield_per=EXPORT_BATCH)
    )
    return conditions, query


def _cells(shown: Disclosure, is_breached: bool, updates: int) -> list[str]:
    report = shown.report
    place, created, contact = shown.place, shown.created, shown.contact
    exact = place is not None and place.precision is Location.EXACT
    return [
        report.reference,
        _iso(created.value if created else None),
        guard_cell(report.category.name),
        guard_cell(report.ward.name if report.ward else ""),
        guard_cell((report.street if exact else None) or ""),
        guard_cell((report.postcode if exact else None) or ""),
        str(report.status),
        str(report.priority),
        guard_cell(report.owner.name if report.owner else ""),
        guard_cell(report.assigned_to.display_name if report.assigned_to else ""),
        _iso(report.acknowledge_due_at),
        _iso(report.resolve_due_at),
        "yes" if is_breached else "no",
        f"{place.lat:.6f}" if place is not None and place.lat is not None else "",
        f"{place.lon:.6f}" if place is not None and place.lon is not None else "",
        guard_cell(shown.description or ""),
        str(updates),
        str(shown.supporters) if shown.supporters is not None else "",
        guard_cell((contact.email if contact else None) or ""),
    ]


def export_csv(
    session: Session,
    user: User,
    filters: QueueFilters,
    now: datetime | None = None,
    *,
    address: str | None = None,
) -> Iterator[str]:
    """The filtered queue as CSV text: a header, then one chunk per batch of rows, each row
    as the disclosure policy lets ``user`` see that report.

    Filters are checked before this returns (``InvalidInput``), and each sensitive report
    the file will hold is written to the access log (commit before streaming); rows are then
    fetched from a server-side cursor ``EXPORT_BATCH`` at a time, so memory stays flat
    however many.
    """
    conditions, query = _export_query(session, user, filters, now or datetime.now(UTC))
    sensitive = session.scalars(
        select(Report)
        .options(joinedload(Report.category))
        .where(*conditions, Report.category.has(Category.sensitive))
    )
    access_log.record_views(
        session,
        disclosures_among_visible(user, sensitive),
        viewer=user,
        surface=CSV_EXPORT,
        address=address,
    )

    def rows() -> Iterator[list[str]]:
        for report, is_breached, updates in session.execute(query):
            yield _cells(
                disclose(report, audience_among_visible(user, report)), is_breached, updates
            )

    return csv_chunks(EXPORT_COLUMNS, rows())
