"""Open reports near a point: the "has this already been reported?" check."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import Select, cast, func, literal_column, select
from sqlalchemy.orm import Session

from safer_streets.models import (
    Report,
    ReportStatus,
)

NEARBY_STATUSES = (ReportStatus.ROUTED, ReportStatus.ACKNOWLEDGED, ReportStatus.IN_PROGRESS)


def nearby_open_reports_query(
    *,
    lon: float,
    lat: float,
    category_id: int | None = None,
    radius_m: float = 50,
    days: int = 30,
    limit: int = 10,
) -> Select[tuple[Report]]:
    """Open reports within ``radius_m`` metres from the last ``days`` days, nearest first.

    Written against the expression index ``(location::geography)`` so it stays fast with
    millions of reports.
    """
    here = cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography)
    location = literal_column("report.location::geography")
    query = (
        select(Report)
        .where(
            func.ST_DWithin(location, here, radius_m),
            Report.status.in_(NEARBY_STATUSES),
            Report.created_at > func.now() - func.make_interval(0, 0, 0, days),
        )
        .order_by(func.ST_Distance(location, here), Report.id)
        .limit(limit)
    )
    if category_id is not None:
        query = query.where(Report.category_id == category_id)
    return query


def nearby_open_reports(session: Session, **criteria: Any) -> list[Report]:
    """Run ``nearby_open_reports_query`` with the same keyword criteria."""
    return list(session.scalars(nearby_open_reports_query(**criteria)))
