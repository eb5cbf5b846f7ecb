"""A partner's queue as CSV, streamed in batches and guarded against formula injection."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    func,
    select,
)
from sqlalchemy.orm import Session, aliased

from safer_streets.casework import sla
from safer_streets.casework.queues import (
    QueueFilters,
    queue_conditions,
    queue_order,
    resolve_filters,
)
from safer_streets.models import (
    Category,
    Partner,
    Report,
    ReportEvent,
    User,
    Ward,
)

EXPORT_BATCH = 1000

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
) -> Select[Any]:
    conditions = queue_conditions(user, filters, resolve_filters(session, filters), now)
    statuses = filters.statuses()
    if statuses is not None:
        conditions.append(Report.status.in_(statuses))
    owner = aliased(Partner)
    assignee = aliased(User)
    public_updates = (
        select(ReportEvent.report_id, func.count().label("n"))
        .where(ReportEvent.public, ReportEvent.kind == "public_update")
        .group_by(ReportEvent.report_id)
        .subquery()
    )
    # Contact details only for the owner partner, and only if the reporter shared them.
    own_partner = user.partner_id if user.partner_id is not None else -1
    contact = case(
        (and_(Report.owner_partner_id == own_partner, ~Report.anonymous), Report.contact_email),
        else_=None,
    )
    return (
        select(
            Report.reference,
            Report.created_at,
            Category.name,
            Ward.name,
            Report.street,
            Report.postcode,
            Report.status,
            Report.priority,
            owner.name,
            assignee.email,
            Report.acknowledge_due_at,
            Report.resolve_due_at,
            sla.breached(now),
            func.ST_Y(Report.location),
            func.ST_X(Report.location),
            Report.description,
            func.coalesce(public_updates.c.n, 0),
            Report.supporter_count,
            contact,
        )
        .join(Category, Category.id == Report.category_id)
        .outerjoin(Ward, Ward.id == Report.ward_id)
        .outerjoin(owner, owner.id == Report.owner_partner_id)
        .outerjoin(assignee, assignee.id == Report.assigned_to_id)
        .outerjoin(public_updates, public_updates.c.report_id == Report.id)
        .where(*conditions)
        .order_by(*queue_order(filters.sort))
        .execution_options(yield_per=EXPORT_BATCH)
    )


def _cells(row: Any) -> list[str]:
    (
        reference,
        received,
        category,
        ward,
        street,
        postcode,
        status,
        priority,
        owner_name,
        assigned,
        acknowledge_due,
        resolve_due,
        is_breached,
        lat,
        lon,
        description,
        updates,
        supporters,
        email,
    ) = row
    return [
        reference,
        _iso(received),
        guard_cell(category),
        guard_cell(ward or ""),
        guard_cell(street or ""),
        guard_cell(postcode or ""),
        str(status),
        str(priority),
        guard_cell(owner_name or ""),
        guard_cell(assigned or ""),
        _iso(acknowledge_due),
        _iso(resolve_due),
        "yes" if is_breached else "no",
        f"{lat:.6f}" if lat is not None else "",
        f"{lon:.6f}" if lon is not None else "",
        guard_cell(description),
        str(updates),
        str(supporters),
        guard_cell(email or ""),
    ]


def export_csv(
    session: Session, user: User, filters: QueueFilters, now: datetime | None = None
) -> Iterator[str]:
    """The filtered queue as CSV text: a header, then one chunk per batch of rows.

    Filters are checked before this returns (``InvalidInput``); rows are fetched from a
    server-side cursor ``EXPORT_BATCH`` at a time, so memory stays flat however many.
    """
    query = _export_query(session, user, filters, now or datetime.now(UTC))

    def rows() -> Iterator[list[str]]:
        for row in session.execute(query):
            yield _cells(row)

    return csv_chunks(EXPORT_COLUMNS, rows())
