"""Open reports near a point: the "has this already been reported?" check."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import Float, Integer, Select, bindparam, cast, func, literal_column, select
from sqlalchemy.orm import Session

from safer_streets.models import (
    Report,
    ReportStatus,
)

NEARBY_STATUSES = (ReportStatus.ROUTED, ReportStatus.ACKNOWLEDGED, ReportStatus.IN_PROGRESS)


def _statement(*, by_category: bool) -> Select[tuple[int]]:
    here = cast(
        func.ST_SetSRID(
            func.ST_MakePoint(bindparam("lon", type_=Float), bindparam("lat", type_=Float)), 4326
        ),
        Geography,
    )
    location = literal_column("report.location::geography")
    query = (
        select(Report.id)
        .where(
            func.ST_DWithin(location, here, bindparam("radius_m", type_=Float)),
            Report.status.in_(NEARBY_STATUSES),
            Report.created_at
            > func.now() - func.make_interval(0, 0, 0, bindparam("days", type_=Integer)),
        )
        .order_by(func.ST_Distance(location, here), Report.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if by_category:
        query = query.where(Report.category_id == bindparam("category_id", type_=Integer))
    return query


# Built once: every first POST of the report form asks, and a statement built per call costs
# more than running it. Ids only: most answers are empty, and a row as wide as a report with
# its eager loads costs more to describe than the search does.
_NEARBY = {by_category: _statement(by_category=by_category) for by_category in (False, True)}


def _criteria(
    *,
    lon: float,
    lat: float,
    category_id: int | None = None,
    radius_m: float = 50,
    days: int = 30,
    limit: int = 10,
) -> tuple[Select[tuple[int]], dict[str, Any]]:
    values: dict[str, Any] = {
        "lon": lon,
        "lat": lat,
        "radius_m": radius_m,
        "days": days,
        "limit": limit,
    }
    if category_id is not None:
        values["category_id"] = category_id
    return _NEARBY[category_id is not None], values


def nearby_open_reports_query(**criteria: Any) -> Select[tuple[int]]:
    """The ids of open reports within ``radius_m`` metres (default 50) from the last ``days`` days
    (default 30), of one ``category_id`` when given, nearest first, at most ``limit`` (10).

    Written against the expression index ``(location::geography)`` so it stays fast with
    millions of reports.
    """
    statement, values = _criteria(**criteria)
    return statement.params(values)


def nearby_open_reports(session: Session, **criteria: Any) -> list[Report]:
    """The reports ``nearby_open_reports_query`` finds with the same keyword criteria, in its
    order."""
    statement, values = _criteria(**criteria)
    ids = list(session.scalars(statement, values))
    if not ids:
        return []
    found = {
        report.id: report for report in session.scalars(select(Report).where(Report.id.in_(ids)))
    }
    return [found[report_id] for report_id in ids]
