"""The board map's layers from a stored run: cells, hot spots, density and recorded crime;
a run's cells as CSV and GeoJSON."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Select,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from geo import significance
from geo.maps import BoardLayers
from safer_streets.board.audience import Audience, audience_for
from safer_streets.board.dashboard import RunView, ward_category_counts, ward_total
from safer_streets.board.exports import guarded_csv
from safer_streets.board.filters import BoardFilters
from safer_streets.board.rates import TOWN_CENTRE_CAVEAT, ward_rates
from safer_streets.board.runs import crime_months, latest_run
from safer_streets.models import (
    Area,
    HotspotCell,
    HotspotRun,
    PoliceCrime,
    User,
    Ward,
)

# ----------------------------------------------------------------------------- maps


def _geojson(geometry_sql: Any) -> Any:
    return func.ST_AsGeoJSON(geometry_sql, 6)


def _ward_geometry(slug: str) -> Any:
    return select(Ward.geom).where(Ward.slug == slug, Ward.active).limit(1).scalar_subquery()


def _cells_query(run: HotspotRun, filters: BoardFilters | None) -> Select[Any]:
    query = select(
        HotspotCell.iy,
        HotspotCell.ix,
        _geojson(HotspotCell.cell),
        HotspotCell.count,
        HotspotCell.z,
        HotspotCell.p,
        HotspotCell.p_sim,
        HotspotCell.q,
        HotspotCell.gi_bin,
        HotspotCell.label,
        HotspotCell.density,
        HotspotCell.emerging,
    ).where(HotspotCell.run_id == run.id)
    if filters is not None and filters.ward:
        query = query.where(
            func.ST_Covers(_ward_geometry(filters.ward), func.ST_Centroid(HotspotCell.cell))
        )
    return query.order_by(HotspotCell.iy, HotspotCell.ix)


@dataclass(frozen=True)
class CellRecord:
    """One stored cell as exports and maps use it."""

    iy: int
    ix: int
    geometry: dict[str, Any]
    # Whole reports, or tenths where reports typed as a street or place were spread over it.
    count: float
    z: float
    p: float
    p_sim: float | None
    q: float
    gi_bin: int
    label: str
    density: float
    emerging: str | None

    def properties(self) -> dict[str, Any]:
        """Everything but the geometry."""
        return {
            "iy": self.iy,
            "ix": self.ix,
            # 3, not 3.0: most cells hold whole reports.
            "count": int(self.count) if float(self.count).is_integer() else self.count,
            "z": self.z,
            "p": self.p,
            "p_sim": self.p_sim,
            "q": self.q,
            "gi_bin": self.gi_bin,
            "label": self.label,
            "density": self.density,
            "emerging": self.emerging,
        }

    def feature(self) -> dict[str, Any]:
        """The cell as a GeoJSON feature."""
        return {"type": "Feature", "geometry": self.geometry, "properties": self.properties()}


def run_cells(
    session: Session,
    user: User | None,
    run: HotspotRun,
    *,
    min_count: int,
    filters: BoardFilters | None = None,
    significant_only: bool = False,
) -> list[CellRecord]:
    """The stored cells of a run that this viewer may see (small cells withheld outside the
    board when the run includes sensitive categories); with ``significant_only``, only the
    hot and cold spots."""
    suppress = audience_for(user) is not Audience.BOARD and run.summary.get(
        "includes_sensitive", True
    )
    cells = []
    for iy, ix, geometry, count, *statistics in session.execute(_cells_query(run, filters)):
        if suppress and count < min_count:
            continue
        cell = CellRecord(iy, ix, json.loads(geometry), count, *statistics)
        if significant_only and cell.gi_bin == 0:
            continue
        cells.append(cell)
    return cells


CELL_COLUMNS = (
    "iy",
    "ix",
    "centre_lon",
    "centre_lat",
    "count",
    "z",
    "p",
    "p_method",
    "q",
    "gi_bin",
    "label",
    "meaning",
    "density",
    "emerging",
)


def cells_csv(cells: Sequence[CellRecord], *, p_method: str = "") -> str:
    """Cells as CSV text, each with its centre and the meaning of its label in words.

    One p-value per cell, the one its label was decided on and ``p_method`` names (a run's
    ``summary["p_name"]``); the permutation estimate of the same p stays out, so that two
    p-values are never read as rival answers.
    """

    def rows() -> Iterator[dict[str, Any]]:
        for cell in cells:
            ring = cell.geometry["coordinates"][0][:4]
            yield cell.properties() | {
                "centre_lon": round(sum(p[0] for p in ring) / 4, 6),
                "centre_lat": round(sum(p[1] for p in ring) / 4, 6),
                "p_method": p_method,
                "meaning": significance.plain_words(cell.label),
            }

    return "".join(guarded_csv(CELL_COLUMNS, rows()))


def cells_geojson(run: HotspotRun, cells: Sequence[CellRecord]) -> dict[str, Any]:
    """Cells as a GeoJSON FeatureCollection of polygons, with the run that computed them."""
    return {
        "type": "FeatureCollection",
        "features": [c.feature() for c in cells],
        "run": {
            "id": run.id,
            "computed_at": run.computed_at.isoformat() if run.computed_at else None,
            "parameters": run.parameters,
            "method": run.summary.get("method"),
        },
    }


def map_layers(
    session: Session,
    user: User | None,
    filters: BoardFilters,
    *,
    min_count: int,
    counts: Mapping[tuple[int | None, int, bool], int] | None = None,
) -> BoardLayers:
    """The map's layers for a viewer, from the stored run and counts (no statistics).

    ``counts``: `ward_category_counts` for the filters, when the caller has them already.
    """
    audience = audience_for(user)
    run = latest_run(session, filters)
    cells = run_cells(session, user, run, min_count=min_count, filters=filters) if run else []
    hot = [c.feature() for c in cells if c.label not in ("not-significant", significance.OUTSIDE)]
    emerging = [c.feature() for c in cells if c.emerging]
    density = [c.feature() for c in cells if c.density > 0]

    if counts is None:
        counts = ward_category_counts(session, filters)
    # Rates count every ward: without a ward or area filter they are the same counts, and a
    # second pass over the reports would give nothing new.
    zoomed = filters.ward is not None or filters.area is not None
    rates = {
        w.code: w
        for w in ward_rates(
            session,
            filters,
            audience=audience,
            min_count=min_count,
            counts=None if zoomed else counts,
        ).wards
    }
    ward_features = []
    for ward_id, code, name, geometry in session.execute(
        select(Ward.id, Ward.code, Ward.name, _geojson(Ward.geom))
        .where(Ward.active)
        .order_by(Ward.code)
    ):
        total = ward_total(counts, ward_id, audience=audience, min_count=min_count)
        rate = rates.get(code)
        ward_features.append(
            {
                "type": "Feature",
                "geometry": json.loads(geometry),
                "properties": {
                    "name": name,
                    "count": total.value,
                    "shown": str(total),
                    # A rate from a partly withheld count would understate: none is shown.
                    "rate": rate.rate if rate and not rate.partial else None,
                    "smoothed": rate.smoothed if rate and not rate.partial else None,
                },
            }
        )
    areas = [
        {
            "type": "Feature",
            "geometry": json.loads(geometry),
            "properties": {"slug": slug, "name": name},
        }
        for slug, name, geometry in session.execute(
            select(Area.slug, Area.name, _geojson(Area.geom)).order_by(Area.name)
        )
    ]
    focus = None
    if filters.area:
        focus = session.scalar(select(func.ST_Extent(Area.geom)).where(Area.slug == filters.area))
    elif filters.ward:
        focus = session.scalar(
            select(func.ST_Extent(Ward.geom)).where(Ward.slug == filters.ward, Ward.active)
        )
    return BoardLayers(
        hotspot_cells=hot,
        density_cells=density,
        emerging_cells=emerging,
        wards=ward_features,
        areas=areas,
        fit_bounds=_parse_box(focus) if focus else None,
        crime_label=crime_label(session, filters),
        rate_note=TOWN_CENTRE_CAVEAT,
    )


def crime_types(session: Session, months: tuple[date, date] | None) -> list[str]:
    """The police.uk crime types imported for a range of months, e.g. ["Burglary"]."""
    if months is None:
        return []
    types = session.scalars(
        select(PoliceCrime.crime_type)
        .where(PoliceCrime.month.between(*months))
        .distinct()
        .order_by(PoliceCrime.crime_type)
    )
    return [f"{t[:1].upper()}{t[1:]}" for t in types]


def crime_label(session: Session, filters: BoardFilters) -> str:
    """What the recorded crime beside these filters is: its types, source and months,
    e.g. "Burglary, police.uk, Feb 2024 to Jan 2025"."""
    months = crime_months(session, filters.date_from, filters.date_to)
    if months is None:
        return "Recorded crime, police.uk (none imported)"
    what = ", ".join(crime_types(session, months)) or "Recorded crime"
    first, last = (m.strftime("%b %Y") for m in months)
    return f"{what}, police.uk, {first} to {last}"


def _parse_box(box: str) -> tuple[float, float, float, float]:
    # ST_Extent returns 'BOX(min_lon min_lat,max_lon max_lat)'.
    low, high = box.removeprefix("BOX(").removesuffix(")").split(",")
    min_lon, min_lat = (float(v) for v in low.split())
    max_lon, max_lat = (float(v) for v in high.split())
    return min_lon, min_lat, max_lon, max_lat


@dataclass(frozen=True)
class HotSpotPlace:
    """A hot cell described for people: where it is and how strong."""

    label: str
    count: int
    z: float
    q: float
    ward: str | None
    area: str | None
    lon: float
    lat: float

    @property
    def meaning(self) -> str:
        """What the cell's label means, in words for a board member."""
        return significance.plain_words(self.label)


def top_hotspots(
    session: Session,
    user: User | None,
    run: RunView | None,
    *,
    min_count: int,
    filters: BoardFilters | None = None,
    limit: int = 10,
) -> list[HotSpotPlace]:
    """The strongest hot cells of a run with their ward and town centre (for tables)."""
    if run is None:
        return []
    centre = func.ST_Centroid(HotspotCell.cell)
    query = (
        select(
            HotspotCell.label,
            HotspotCell.count,
            HotspotCell.z,
            HotspotCell.q,
            select(Ward.name)
            .where(Ward.active, func.ST_Covers(Ward.geom, centre))
            .order_by(Ward.code)
            .limit(1)
            .scalar_subquery(),
            select(Area.name)
            .where(func.ST_Covers(Area.geom, centre))
            .order_by(Area.name)
            .limit(1)
            .scalar_subquery(),
            func.ST_X(centre),
            func.ST_Y(centre),
        )
        .where(HotspotCell.run_id == run.id, HotspotCell.gi_bin > 0)
        .order_by(HotspotCell.gi_bin.desc(), HotspotCell.z.desc())
    )
    if filters is not None and filters.ward:
        query = query.where(func.ST_Covers(_ward_geometry(filters.ward), centre))
    if audience_for(user) is not Audience.BOARD and run.summary.get("includes_sensitive", True):
        query = query.where(HotspotCell.count >= min_count)
    return [HotSpotPlace(*row) for row in session.execute(query.limit(limit))]


def crime_points(session: Session, filters: BoardFilters) -> dict[str, Any]:
    """Recorded crime beside the period, one feature per police map point with its count."""
    months = crime_months(session, filters.date_from, filters.date_to)
    if months is None:
        return {"type": "FeatureCollection", "features": []}
    query = (
        select(
            _geojson(PoliceCrime.location),
            PoliceCrime.location_text,
            func.count(),
            func.string_agg(PoliceCrime.crime_type.distinct(), literal(", ")),
        )
        .where(PoliceCrime.month.between(*months))
        .group_by(PoliceCrime.location, PoliceCrime.location_text)
    )
    if filters.ward:
        query = query.where(
            PoliceCrime.ward_id.in_(select(Ward.id).where(Ward.slug == filters.ward, Ward.active))
        )
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(geometry),
            "properties": {
                "count": count,
                "label": f"{place or 'Unnamed place'}: {count:,} recorded ({types})",
            },
        }
        for geometry, place, count, types in session.execute(query)
    ]
    return {"type": "FeatureCollection", "features": features}
