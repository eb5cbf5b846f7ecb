"""Reports for the safety board's tests: placed, routed to a ward and timed as needed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import shapely
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from geo.projection import to_bng, to_lonlat
from geo.wards import Borough, WardIndex
from safer_streets.models import Category, Partner, Report, ReportEvent, ReportStatus, Ward

CATFORD = (-0.0207, 51.4452)
NOW = datetime.now(UTC)
RECENTLY = NOW - timedelta(days=20)


@cache
def _wards() -> WardIndex:
    return WardIndex.from_geojson()


@cache
def _borough() -> Borough:
    return Borough.from_geojson()


def scattered(n: int, seed: int = 1) -> list[tuple[float, float]]:
    """``n`` points spread uniformly over the borough."""
    rng = np.random.default_rng(seed)
    geometry = _borough().geometry
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    points: list[tuple[float, float]] = []
    while len(points) < n:
        lon = rng.uniform(min_lon, max_lon, 4 * n)
        lat = rng.uniform(min_lat, max_lat, 4 * n)
        inside = shapely.covers(geometry, shapely.points(lon, lat))
        points += list(zip(lon[inside].tolist(), lat[inside].tolist(), strict=True))
    return points[:n]


def around(centre: tuple[float, float], n: int, spread_m: float = 40, seed: int = 2):
    """``n`` points within a few tens of metres of ``centre``."""
    rng = np.random.default_rng(seed)
    x, y = to_bng(*centre)
    lon, lat = to_lonlat(x + rng.normal(0, spread_m, n), y + rng.normal(0, spread_m, n))
    return list(zip(np.atleast_1d(lon).tolist(), np.atleast_1d(lat).tolist(), strict=True))


_counter = iter(range(1, 10**9))


def add_reports(
    session: Session,
    category: str,
    points: Sequence[tuple[float, float]],
    *,
    when: datetime = RECENTLY,
    owner: str | None = None,
    status: ReportStatus = ReportStatus.ROUTED,
    acknowledged_after: timedelta | None = None,
    resolved_after: timedelta | None = None,
    resolution_note: str | None = None,
    description: str = "test report",
    contact_email: str | None = None,
    source: str = "web",
) -> list[int]:
    """Insert reports of one category at the points, in their wards; returns their ids."""
    category_row = session.scalars(select(Category).where(Category.slug == category)).one()
    ward_ids = dict(session.execute(select(Ward.code, Ward.id).where(Ward.active)).all())
    owner_id = session.scalar(select(Partner.id).where(Partner.slug == owner)) if owner else None
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    index = _wards().ward_indices(lons, lats)
    rows = []
    for (lon, lat), w in zip(points, index.tolist(), strict=True):
        rows.append(
            {
                "reference": f"LEW-T{next(_counter):05d}",
                "category_id": category_row.id,
                "description": description,
                "contact_email": contact_email,
                "anonymous": contact_email is None,
                "location": f"SRID=4326;POINT({lon:.7f} {lat:.7f})",
                "occurred_at": when,
                "created_at": when,
                "status": status,
                "source": source,
                "ward_id": ward_ids[_wards().wards[w].code] if w >= 0 else None,
                "owner_partner_id": owner_id,
                "acknowledged_at": when + acknowledged_after if acknowledged_after else None,
                "resolved_at": when + resolved_after if resolved_after else None,
            }
        )
    ids = list(
        session.scalars(insert(Report).returning(Report.id, sort_by_parameter_order=True), rows)
    )
    if resolution_note is not None:
        session.execute(
            insert(ReportEvent),
            [
                {
                    "report_id": report_id,
                    "kind": "status",
                    "to_status": "resolved",
                    "note": resolution_note,
                    "public": True,
                }
                for report_id in ids
            ],
        )
    session.flush()
    return ids
