"""The reports a set of board filters selects, as SQL conditions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from geo import suntimes
from geo.suntimes import LONDON
from safer_streets.board.filters import (
    ALL_SOURCES,
    EXCLUDED_STATUSES,
    HIDDEN_SOURCES,
    BoardFilters,
    TimeOfDay,
)
from safer_streets.models import (
    Area,
    Category,
    Report,
    Ward,
)

# ---------------------------------------------------------------------- report query


def event_time() -> ColumnElement[datetime]:
    """When the problem happened: the reporter's time if given, else when it was reported."""
    return func.coalesce(Report.occurred_at, Report.created_at)


def local_time(moment: ColumnElement[datetime]) -> ColumnElement[datetime]:
    return func.timezone(LONDON.key, moment)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=LONDON)


def report_conditions(
    session: Session,
    *,
    categories: Sequence[str] | None,
    date_from: date,
    date_to: date,
    time_of_day: TimeOfDay,
    ward: str | None = None,
    area: str | None = None,
    source: str | None = None,
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the reports a filter selects (joins ``category``).

    ``source`` None leaves out demo and test reports; ``ALL_SOURCES`` keeps every source.
    """
    when = event_time()
    conditions: list[ColumnElement[bool]] = [
        Report.location.is_not(None),
        Report.status.not_in(EXCLUDED_STATUSES),
        when >= start_of(date_from),
        when < start_of(date_to + timedelta(days=1)),
    ]
    if source is None:
        conditions.append(Report.source.not_in(HIDDEN_SOURCES))
    elif source != ALL_SOURCES:
        conditions.append(Report.source == source)
    if categories:
        conditions.append(Category.slug.in_(list(categories)))
    if time_of_day is TimeOfDay.AFTER_DARK:
        conditions.append(Report.after_dark.is_(True))
    elif time_of_day is TimeOfDay.DAYLIGHT:
        conditions.append(Report.after_dark.is_(False))
    elif time_of_day.hours is not None:
        start, end = time_of_day.hours
        hour = func.extract("hour", local_time(when))
        conditions.append(and_(hour >= start, hour < end))
    if ward:
        conditions.append(Report.ward_id.in_(select(Ward.id).where(Ward.slug == ward, Ward.active)))
    if area:
        area_geom = select(Area.geom).where(Area.slug == area).scalar_subquery()
        conditions.append(func.ST_Covers(area_geom, Report.location))
    return conditions


def filter_conditions(session: Session, filters: BoardFilters, **overrides: Any) -> list[Any]:
    spec = {
        "categories": [filters.category] if filters.category else None,
        "date_from": filters.date_from,
        "date_to": filters.date_to,
        "time_of_day": filters.time_of_day,
        "ward": filters.ward,
        "area": filters.area,
        "source": filters.source,
    } | overrides
    return report_conditions(session, **spec)


def left_out_sources(session: Session, filters: BoardFilters) -> int:
    """How many demo and test reports the filters would select but leave out by default, so
    that the board can say so rather than look empty."""
    if filters.source is not None:
        return 0
    conditions = filter_conditions(session, filters, source=ALL_SOURCES)
    query = (
        select(func.count())
        .select_from(Report)
        .join(Category)
        .where(*conditions, Report.source.in_(HIDDEN_SOURCES))
    )
    return session.scalar(query) or 0


def derive_after_dark(session: Session) -> int:
    """Fill in ``after_dark`` (sunset to sunrise at Lewisham) where it is still unknown."""
    rows = session.execute(select(Report.id, event_time()).where(Report.after_dark.is_(None))).all()
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    dark = suntimes.after_dark([row[1] for row in rows]).tolist()
    session.execute(
        text(
            "UPDATE report SET after_dark = d.dark "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:dark AS boolean[])) AS d(id, dark) "
            "WHERE report.id = d.id"
        ),
        {"ids": ids, "dark": dark},
    )
    return len(ids)
