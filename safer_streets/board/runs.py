"""Hotspot runs: requested, scheduled nightly, computed by the worker (``compute_run``, the only
place statistics from ``geo`` are computed) and stored cell by cell for the board to read."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import struct
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Float,
    Integer,
    Select,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from geo import (
    correlation,
    density,
    emerging,
    grid,
    hotspots,
    projection,
    significance,
    suntimes,
)
from safer_streets.board.audience import require_board
from safer_streets.board.filters import (
    ALL_SOURCES,
    DEFAULT_CELL_SIZE_M,
    DEFAULT_WINDOWS,
    DEMO_SOURCE,
    HIDDEN_SOURCES,
    PENDING_RUN_MAX_AGE,
    RUN_RETENTION,
    BoardFilters,
    Period,
    TimeOfDay,
    default_filters,
    month_starts,
    months_before,
)
from safer_streets.board.query import (
    derive_after_dark,
    event_time,
    local_time,
    report_conditions,
    start_of,
)
from safer_streets.errors import NotFound
from safer_streets.models import (
    Area,
    Category,
    HotspotCell,
    HotspotRun,
    PlaceExtent,
    PoliceCrime,
    Report,
    ReportSupport,
    RunStatus,
    User,
    Ward,
)

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ runs


@dataclass(frozen=True)
class RunParameters:
    """Everything a run is computed from; stored with it so that it can be reproduced."""

    categories: list[str] | None
    period: str
    date_from: str
    date_to: str
    time_of_day: str
    cell_size_m: float = DEFAULT_CELL_SIZE_M
    neighbourhood_cells: int = 1
    permutations: int = 999
    seed: int = 20260101
    bandwidth_m: float | None = None
    bandwidth_rule: str = "silverman-2d, clamped to 100-400 m"
    windows: int = DEFAULT_WINDOWS
    # Never the normal approximation: on sparse counts it overstates significance.
    p_source: str = "conditional"
    # None: every source but demo and test (see ``BoardFilters.source``).
    source: str | None = None

    @classmethod
    def from_filters(cls, filters: BoardFilters, *, permutations: int, seed: int) -> RunParameters:
        """Parameters of a run for these filters, with the method defaults."""
        return cls(
            categories=[filters.category] if filters.category else None,
            period=filters.period.value,
            date_from=filters.date_from.isoformat(),
            date_to=filters.date_to.isoformat(),
            time_of_day=filters.time_of_day.value,
            permutations=permutations,
            seed=seed,
            source=filters.source,
        )

    def filters(self) -> BoardFilters:
        """The board filters this run answers (without ward or area)."""
        return BoardFilters(
            category=self.categories[0] if self.categories else None,
            period=Period(self.period),
            date_from=date.fromisoformat(self.date_from),
            date_to=date.fromisoformat(self.date_to),
            time_of_day=TimeOfDay(self.time_of_day),
            source=self.source,
        )


def parameters_key(run_filters: Mapping[str, Any]) -> str:
    """A digest of the filter part of run parameters, to find runs for a board view."""
    canonical = json.dumps(run_filters, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_run(
    session: Session, parameters: RunParameters, *, requested_by: User | None = None
) -> HotspotRun:
    """Store a queued run; the caller commits and then enqueues its computation."""
    run = HotspotRun(
        status=RunStatus.QUEUED,
        parameters=asdict(parameters),
        parameters_key=parameters_key(parameters.filters().run_filters()),
        summary={},
        requested_by=requested_by,
    )
    session.add(run)
    session.flush()
    return run


def request_run(
    session: Session,
    user: User | None,
    filters: BoardFilters,
    *,
    permutations: int,
    seed: int,
) -> tuple[HotspotRun, bool]:
    """Queue a run for the board's filters (board only); reuse one already waiting."""
    actor = require_board(user)
    waiting = pending_run(session, filters)
    if waiting is not None:
        return waiting, False
    parameters = RunParameters.from_filters(filters, permutations=permutations, seed=seed)
    return create_run(session, parameters, requested_by=actor), True


def latest_run(session: Session, filters: BoardFilters) -> HotspotRun | None:
    """The newest finished run for these filters."""
    return session.scalar(
        select(HotspotRun)
        .where(
            HotspotRun.parameters_key == parameters_key(filters.run_filters()),
            HotspotRun.status == RunStatus.DONE,
        )
        .order_by(HotspotRun.computed_at.desc(), HotspotRun.id.desc())
        .limit(1)
    )


def pending_run(session: Session, filters: BoardFilters) -> HotspotRun | None:
    """A run for these filters queued in the last hour and not finished yet."""
    cutoff = datetime.now(UTC) - PENDING_RUN_MAX_AGE
    return session.scalar(
        select(HotspotRun)
        .where(
            HotspotRun.parameters_key == parameters_key(filters.run_filters()),
            HotspotRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
            HotspotRun.created_at >= cutoff,
        )
        .order_by(HotspotRun.id.desc())
        .limit(1)
    )


def queued_run_ids(session: Session) -> list[int]:
    """Runs waiting to be computed, oldest first."""
    return list(
        session.scalars(
            select(HotspotRun.id)
            .where(HotspotRun.status == RunStatus.QUEUED)
            .order_by(HotspotRun.id)
        )
    )


def get_run(session: Session, run_id: int) -> HotspotRun:
    """A finished run by id, or ``NotFound``."""
    run = session.get(HotspotRun, run_id)
    if run is None or run.status is not RunStatus.DONE:
        raise NotFound(f"no finished hotspot run {run_id}")
    return run


# Categories whose after-dark pattern the partnership asks about every month (its violence
# against women and girls work and lighting bids), so they get their own after-dark run.
AFTER_DARK_GROUP = "Safety"
# The town centres the board is asked about by name. Runs cover the borough and a town centre
# only zooms, so their questions are answered by the borough runs; their reasons are counted.
NAMED_TOWN_CENTRES = ("catford-town-centre", "lewisham-town-centre")


def nightly_filters(session: Session, today: date) -> list[BoardFilters]:
    """The questions the partnership asks, as filter sets to compute every night.

    All categories, at any time and after dark; each category; each safety category after
    dark. A town-centre view (Catford, Lewisham) is one of these zoomed in. When demo reports
    exist the same questions are asked of them too, since the board leaves them out
    otherwise.
    """
    base = default_filters(today)
    dark = replace(base, time_of_day=TimeOfDay.AFTER_DARK)
    wanted = [base, dark]
    for slug, group in session.execute(
        select(Category.slug, Category.group).order_by(Category.position)
    ):
        wanted.append(replace(base, category=slug))
        if group == AFTER_DARK_GROUP:
            wanted.append(replace(dark, category=slug))
    if session.scalar(select(exists().where(Report.source == DEMO_SOURCE))):
        wanted += [replace(f, source=DEMO_SOURCE) for f in wanted]
    return wanted


def schedule_nightly_runs(
    session: Session, *, today: date, permutations: int, seed: int, force: bool = False
) -> list[int]:
    """Queue the nightly runs (`nightly_filters`).

    A filter set that already has a run computed today, or one waiting, is skipped (unless
    ``force``, for when the reports have just changed), so a second beat on the same night
    adds nothing.
    """
    midnight = start_of(today)
    queued = []
    for filters in nightly_filters(session, today):
        key = parameters_key(filters.run_filters())
        fresh = session.scalar(
            select(
                exists().where(
                    HotspotRun.parameters_key == key,
                    or_(
                        HotspotRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
                        HotspotRun.computed_at >= midnight,
                    ),
                )
            )
        )
        if force or not fresh:
            parameters = RunParameters.from_filters(filters, permutations=permutations, seed=seed)
            queued.append(create_run(session, parameters).id)
    return queued


def prune_runs(session: Session, *, now: datetime | None = None) -> int:
    """Delete runs older than the retention period, keeping the newest run of each filter set."""
    cutoff = (now or datetime.now(UTC)) - RUN_RETENTION
    newest = (
        select(func.max(HotspotRun.id))
        .where(HotspotRun.status == RunStatus.DONE)
        .group_by(HotspotRun.parameters_key)
    )
    result = session.execute(
        delete(HotspotRun).where(HotspotRun.created_at < cutoff, HotspotRun.id.not_in(newest))
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class RunPoints:
    """The reports a run is computed on, as arrays (one entry per report)."""

    lon: np.ndarray
    lat: np.ndarray
    epoch_s: np.ndarray
    ward_id: np.ndarray
    sensitive: np.ndarray
    # British National Grid eastings and northings, when already projected.
    projected: tuple[np.ndarray, np.ndarray] | None = None
    # Reports placed from a typed street or place: the index of its extent in ``extents``
    # (-1 for a report at its point); None when no report has one.
    extent: np.ndarray | None = None
    extents: grid.Extents = field(default_factory=grid.Extents)

    def pieces(self, cell_size: float, *, group: np.ndarray | None = None) -> grid.Pieces | None:
        """The reports with those placed from text spread over their extent's cells
        (`grid.Extents.spread`); None when every report is at its point, to be binned as
        points."""
        if self.extent is None or not (self.extent >= 0).any():
            return None
        projected = self.projected or projection.to_bng(self.lon, self.lat)
        return self.extents.spread(
            (self.lon, self.lat), projected, self.extent, cell_size, group=group
        )


# array_send's header: dimensions, has-nulls flag, element type, then (size, lower bound) for
# each of the two dimensions.
_ARRAY_HEADER = struct.Struct(">iiiiiii")


def _fetch_float_columns(session: Session, statement: Select[Any], columns: int) -> np.ndarray:
    """Run a SELECT of float8 columns into an ``(n, columns)`` array.

    PostgreSQL sends the whole result as one value, the binary form of a two-dimensional
    float8 array, which numpy reads as it is: no Python object per row or per value. For a
    million reports this is several times faster than fetching rows (see
    bench/bench_board.py), and faster than a binary COPY, whose stream arrives one message
    per row. Every column must be a non-null float8.
    """
    rows = statement.subquery()
    packed = select(func.array_send(func.array_agg(array(list(rows.c))))).compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    # Binary results: as text, the value would travel as hex, twice the size, to be decoded.
    with session.connection().connection.driver_connection.cursor(binary=True) as cursor:
        (data,) = cursor.execute(packed.string, packed.params).fetchone()
    if data is None:  # no rows: array_agg of nothing is NULL
        return np.empty((0, columns))
    ndim, has_nulls, _, n, _, width, _ = _ARRAY_HEADER.unpack_from(data)
    if ndim != 2 or width != columns or has_nulls:
        raise RuntimeError("expected a two-dimensional float8 array without NULLs")
    values = np.frombuffer(
        data, dtype=np.dtype([("len", ">i4"), ("v", ">f8")]), offset=_ARRAY_HEADER.size
    )
    return values["v"].astype(np.float64).reshape(n, columns)


def _conditions(session: Session, parameters: RunParameters, **overrides: Any) -> list[Any]:
    spec = {
        "categories": parameters.categories,
        "date_from": date.fromisoformat(parameters.date_from),
        "date_to": date.fromisoformat(parameters.date_to),
        "time_of_day": TimeOfDay(parameters.time_of_day),
        "source": parameters.source,
    } | overrides
    return report_conditions(session, **spec)


def run_points(session: Session, parameters: RunParameters) -> RunPoints:
    """The filtered reports' locations, times, wards and sensitivity, set-based."""
    conditions = _conditions(session, parameters)
    statement = (
        select(
            cast(func.ST_X(Report.location), Float),
            cast(func.ST_Y(Report.location), Float),
            cast(func.extract("epoch", event_time()), Float),
            cast(func.coalesce(Report.ward_id, -1), Float),
            cast(cast(Category.sensitive, Integer), Float),
            cast(func.coalesce(Report.place_extent_id, -1), Float),
        )
        .join(Category, Category.id == Report.category_id)
        .where(*conditions)
    )
    data = _fetch_float_columns(session, statement, 6)
    extent, extents = load_extents(session, data[:, 5].astype(np.int64))
    return RunPoints(
        lon=data[:, 0],
        lat=data[:, 1],
        epoch_s=data[:, 2],
        ward_id=data[:, 3].astype(np.int64),
        sensitive=data[:, 4].astype(bool),
        extent=extent,
        extents=extents,
    )


def load_extents(session: Session, extent_ids: np.ndarray) -> tuple[np.ndarray, grid.Extents]:
    """The extents these ``place_extent`` ids (-1: none) name, projected, each once; and
    each report's index among them (-1: none)."""
    used = np.unique(extent_ids[extent_ids >= 0])
    if not used.size:
        return np.full(extent_ids.size, -1, dtype=np.int64), grid.Extents()
    rows = session.execute(
        select(PlaceExtent.id, func.ST_AsBinary(PlaceExtent.geom))
        .where(PlaceExtent.id.in_(used.tolist()))
        .order_by(PlaceExtent.id)
    ).all()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    geometries = tuple(projection.project_geometry(shapely.from_wkb(bytes(row[1]))) for row in rows)
    index = np.where(extent_ids >= 0, np.searchsorted(ids, extent_ids), -1)
    return index.astype(np.int64), grid.Extents(geometries)


def crime_months(session: Session, date_from: date, date_to: date) -> tuple[date, date] | None:
    """The months of recorded crime to set beside a period of reports.

    The period's own months when they are imported; police.uk publishes a month or two
    late, so otherwise the same number of months ending with the latest one imported
    before the period ends. None when no recorded crime is imported at all.
    """
    last_wanted = date_to.replace(day=1)
    latest = session.scalar(
        select(func.max(PoliceCrime.month)).where(PoliceCrime.month <= last_wanted)
    )
    if latest is None:
        return None
    span = len(month_starts(date_from, date_to))
    return months_before(latest, span - 1), latest


def crimes_per_ward(session: Session, months: tuple[date, date] | None) -> dict[int, int]:
    """Recorded crimes per ward id in a range of months."""
    if months is None:
        return {}
    rows = session.execute(
        select(PoliceCrime.ward_id, func.count())
        .where(
            PoliceCrime.month.between(*months),
            PoliceCrime.ward_id.is_not(None),
        )
        .group_by(PoliceCrime.ward_id)
    ).all()
    return dict(rows)


def _correlation(session: Session, points: RunPoints, parameters: RunParameters) -> dict[str, Any]:
    wards = session.execute(
        select(Ward.id, Ward.code, Ward.name).where(Ward.active).order_by(Ward.name)
    ).all()
    months = crime_months(
        session, date.fromisoformat(parameters.date_from), date.fromisoformat(parameters.date_to)
    )
    crimes = crimes_per_ward(session, months)
    ids, counts = np.unique(points.ward_id, return_counts=True)
    reports = dict(zip(ids.tolist(), counts.tolist(), strict=True))
    rows = [
        {
            "code": code,
            "name": name,
            "reports": reports.get(ward_id, 0),
            "crimes": crimes.get(ward_id, 0),
        }
        for ward_id, code, name in wards
    ]
    if months is None or not crimes:
        return {"available": False, "wards": rows, "crime_types": []}
    crime_types = list(
        session.scalars(
            select(PoliceCrime.crime_type)
            .where(PoliceCrime.month.between(*months))
            .distinct()
            .order_by(PoliceCrime.crime_type)
        )
    )
    result = correlation.rank_correlation([r["reports"] for r in rows], [r["crimes"] for r in rows])
    return {
        "available": True,
        "rho": None if math.isnan(result.rho) else result.rho,
        "p": None if math.isnan(result.p) else result.p,
        "n": result.n,
        "method": result.method,
        "crime_types": crime_types,
        "months": [months[0].isoformat()[:7], months[1].isoformat()[:7]],
        "same_months": months[1] == date.fromisoformat(parameters.date_to).replace(day=1),
        "wards": rows,
    }


@functools.lru_cache(maxsize=4)
def _cell_polygons(on: grid.Grid, mask: bytes, shape: tuple[int, ...]) -> tuple[str, ...]:
    """The analysed cells' outlines as EWKT, in ``np.nonzero(mask)`` order.

    Every run on the same grid and study area has the same cells; projecting and formatting
    their corners took more of a night's runs than the statistics did.
    """
    iy, ix = np.nonzero(np.frombuffer(mask, dtype=bool).reshape(shape))
    rings = np.round(on.cell_polygons_lonlat(iy, ix), 6)
    return tuple(
        "SRID=4326;POLYGON((" + ",".join(f"{x:.6f} {y:.6f}" for x, y in ring) + "))"
        for ring in rings
    )


def cell_rows(
    run_id: int,
    result: hotspots.HotspotResult,
    heat: density.DensityResult,
    trends: emerging.EmergingResult | None,
) -> Iterator[tuple[Any, ...]]:
    """Rows for ``store_cells``: ``p`` is the p-value the labels were decided on (named in
    the run's summary), never the normal approximation, which on sparse counts gives
    p-values like 1e-17 beside a conditional p of 0.004."""
    iy, ix = np.nonzero(result.mask)
    polygons = _cell_polygons(result.grid, result.mask.tobytes(), result.mask.shape)
    p_sim = result.p_sim_two_sided
    if trends is None:
        emerging_labels = [None] * iy.size
    else:
        emerging_labels = [
            None if trend in ("none", significance.OUTSIDE) else trend
            for trend in trends.categories[iy, ix].tolist()
        ]
    # Whole columns to Python values at once: indexing numpy cell by cell cost more than
    # writing the rows.
    return zip(
        [run_id] * iy.size,
        iy.tolist(),
        ix.tolist(),
        polygons,
        # Tenths where reports were spread over a street or area: kept, never truncated.
        result.counts[iy, ix].astype(np.float64).tolist(),
        result.z[iy, ix].tolist(),
        result.p_used[iy, ix].tolist(),
        [None] * iy.size if p_sim is None else p_sim[iy, ix].tolist(),
        result.q[iy, ix].tolist(),
        result.gi_bin[iy, ix].astype(np.int64).tolist(),
        result.labels[iy, ix].tolist(),
        heat.density[iy, ix].tolist(),
        emerging_labels,
        strict=True,
    )


def store_cells(session: Session, rows: Iterator[tuple[Any, ...]]) -> int:
    """Bulk-insert hotspot cells with COPY (one round trip for thousands of cells)."""
    raw = session.connection().connection.driver_connection
    count = 0
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY hotspot_cell (run_id, iy, ix, cell, count, z, p, p_sim, q, gi_bin, label, "
            "density, emerging) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _window_index(epoch_s: np.ndarray, date_from: date, date_to: date, windows: int) -> np.ndarray:
    start = start_of(date_from).timestamp()
    end = start_of(date_to + timedelta(days=1)).timestamp()
    width = (end - start) / windows
    index = np.floor((epoch_s - start) / width).astype(np.int64)
    return np.clip(index, 0, windows - 1)


P_NAMES = {
    "exact": "exact conditional-randomisation p",
    "permutation": "conditional-permutation p",
    "analytical": "normal-approximation p",
}
"""What the p stored with each cell is, by the run's ``p_source``."""


def _method_text(params: Mapping[str, Any], heat: Mapping[str, Any]) -> str:
    size = params.get("neighbourhood_size", 9)
    source = params.get("p_source", "")
    perms = params.get("permutations") or 0
    p_text = {
        "exact": (
            "the p-value is the exact conditional-randomisation p: the chance, if reports "
            "fell on the cells at random, of a neighbourhood at least this extreme, with "
            "each cell's own count kept (the limit of PySAL esda's p_sim as the number of "
            "permutations grows)"
        ),
        "permutation": (
            f"the p-value is the conditional-permutation p from {perms} permutations "
            f"(seed {params.get('seed')}), as PySAL esda's p_sim, counting ties in both tails"
        ),
        "analytical": "the p-value is the normal approximation",
    }.get(source, source)
    return (
        f"Getis-Ord Gi* on {params.get('cell_size_m', 100):.0f} m cells of the British "
        f"National Grid inside the borough ({params.get('n_cells', 0):,} cells), each cell "
        f"with its {size - 1} neighbours; {p_text}. Hot and cold spots after "
        f"Benjamini–Hochberg false-discovery-rate control of that p at 10 %, 5 % and 1 % "
        f"(90, 95 and 99 % confidence), and only where the neighbourhood holds at least "
        f"{params.get('min_count', 0):g} reports and the cell itself at least "
        f"{params.get('min_cell_count', 0):g} (a cold spot: where at least "
        f"{params.get('min_count', 0):g} were expected). z is the Gi* z-score, a measure of "
        f"size, not the test. Kernel "
        f"density: Gaussian, bandwidth {heat['bandwidth_m']:.0f} m ({heat['rule']})."
    )


def previous_period(session: Session, parameters: RunParameters) -> dict[str, Any]:
    """The period of the same length just before the run's, and its reports."""
    previous_from, previous_to = parameters.filters().previous()
    count = session.scalar(
        select(func.count())
        .select_from(Report)
        .join(Category, Category.id == Report.category_id)
        .where(*_conditions(session, parameters, date_from=previous_from, date_to=previous_to))
    )
    return {"from": previous_from.isoformat(), "to": previous_to.isoformat(), "n_points": count}


def _supporter_time_conditions(time_of_day: TimeOfDay) -> list[Any]:
    """The run's time of day applied to a supporter's own time, as it is to a reporter's."""
    if time_of_day is TimeOfDay.AFTER_DARK:
        return [ReportSupport.after_dark.is_(True)]
    if time_of_day is TimeOfDay.DAYLIGHT:
        return [ReportSupport.after_dark.is_(False)]
    if time_of_day.hours is not None:
        start, end = time_of_day.hours
        moment = func.coalesce(ReportSupport.occurred_at, ReportSupport.created_at)
        hour = func.extract("hour", local_time(moment))
        return [hour >= start, hour < end]
    return []


def reasons_counted(session: Session, parameters: RunParameters) -> list[dict[str, Any]]:
    """Why people feel unsafe: the people giving each reason, after dark and in daylight, and
    in the named town centres (one may give several reasons).

    People are the run's reporters and those who added their voice to the run's reports, each
    once: a supporter's reasons and time are their own (``after_dark`` is set on one of their
    rows only), the place is the report's. ``reports`` stays the number of reports whose
    reporter gave the reason, as a supporter is not a new report.
    """
    rows = _reason_rows(
        session,
        reporters=_conditions(session, parameters),
        supporters=[
            *_conditions(session, parameters, time_of_day=TimeOfDay.ANY),
            *_supporter_time_conditions(TimeOfDay(parameters.time_of_day)),
        ],
    )
    return _tally_reasons(rows, parameters, category_ids=None)


def _reason_rows(
    session: Session, *, reporters: Sequence[Any], supporters: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """(reason, category id, dark, source, reporter, in each named centre, people) for the
    reasons ticked by the reporters and supporters of the reports these conditions select.

    ``dark`` is 1 after dark, 0 in daylight, -1 not known yet; ``source`` is `_source_code`;
    ``reporter`` is 1 for reporters' reasons, 0 for supporters'. Reports and supports that
    gave no reason are left out before the town centres are looked up for each reason.
    """
    centres = _centre_columns().values()
    ticked_by_reporters = (
        select(
            func.unnest(Report.reasons).label("reason"),
            Report.category_id.label("category_id"),
            func.coalesce(cast(Report.after_dark, Integer), -1).label("dark"),
            _source_code().label("source"),
            literal(1).label("reporter"),
            *centres,
        )
        .join(Category, Category.id == Report.category_id)
        .where(*reporters, func.cardinality(Report.reasons) > 0)
    )
    ticked_by_supporters = (
        select(
            func.unnest(ReportSupport.reasons).label("reason"),
            Report.category_id.label("category_id"),
            cast(ReportSupport.after_dark, Integer).label("dark"),
            _source_code().label("source"),
            literal(0).label("reporter"),
            *centres,
        )
        .select_from(ReportSupport)
        .join(Report, Report.id == ReportSupport.report_id)
        .join(Category, Category.id == Report.category_id)
        .where(
            *supporters,
            ReportSupport.after_dark.is_not(None),
            func.cardinality(ReportSupport.reasons) > 0,
        )
    )
    ticked = union_all(ticked_by_reporters, ticked_by_supporters).subquery()
    keys = [ticked.c.reason, ticked.c.category_id, ticked.c.dark, ticked.c.source]
    keys += [ticked.c.reporter] + [ticked.c[c.name] for c in centres]
    return [
        tuple(row)
        for row in session.execute(select(*keys, func.count()).group_by(*keys).order_by(*keys))
    ]


def _tally_reasons(
    rows: Sequence[tuple[Any, ...]],
    parameters: RunParameters,
    *,
    category_ids: Mapping[str, int] | None,
) -> list[dict[str, Any]]:
    """`reasons_counted`'s answer from `_reason_rows`, keeping the rows of this run's source,
    time of day (after dark or daylight: rows chosen by clock hours are all kept) and, given
    ``category_ids`` (slug to id), categories; None when the rows hold only those already."""
    wanted_source = _source_wanted(parameters)
    ids = (
        {category_ids.get(s) for s in parameters.categories}
        if parameters.categories and category_ids is not None
        else None
    )
    time_of_day = TimeOfDay(parameters.time_of_day)
    totals: dict[Any, list[int]] = {}
    for reason, category_id, dark, source, reporter, *centres, n in rows:
        if source != wanted_source or (ids is not None and category_id not in ids):
            continue
        if time_of_day is TimeOfDay.AFTER_DARK and dark != 1:
            continue
        if time_of_day is TimeOfDay.DAYLIGHT and dark != 0:
            continue
        row = totals.setdefault(reason, [0, 0, 0] + [0] * len(centres))
        row[0] += n
        row[1] += n if reporter else 0
        row[2] += n if dark == 1 else 0
        for k, inside in enumerate(centres):
            row[3 + k] += n if inside else 0
    # Most people first, then by reason.
    ordered = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    return [
        {
            "reason": reason,
            "people": people,
            "reports": reports,
            "after_dark": dark,
            "daylight": people - dark,
            "town_centres": dict(zip(NAMED_TOWN_CENTRES, in_centres, strict=True)),
        }
        for reason, (people, reports, dark, *in_centres) in ordered
    ]


def _source_wanted(parameters: RunParameters) -> int:
    """The run's source as `_source_code` numbers it."""
    return 0 if parameters.source is None else 1 + HIDDEN_SOURCES.index(parameters.source)


# Time-of-day choices a shared fetch can tell apart: it holds ``after_dark``, not the hour.
_SHARED_TIMES = (TimeOfDay.ANY, TimeOfDay.AFTER_DARK, TimeOfDay.DAYLIGHT)


def _source_code() -> Any:
    """0 for a resident's source, 1 + the index in ``HIDDEN_SOURCES`` for demo and test."""
    return case(*((Report.source == name, k + 1) for k, name in enumerate(HIDDEN_SOURCES)), else_=0)


def _centre_columns() -> dict[str, Any]:
    return {
        slug: func.coalesce(
            func.ST_Covers(
                select(Area.geom).where(Area.slug == slug).scalar_subquery(), Report.location
            ),
            False,
        ).label(slug.replace("-", "_"))
        for slug in NAMED_TOWN_CENTRES
    }


@dataclass(frozen=True)
class SharedPoints:
    """Every counted report of one period and the one before, fetched once for several runs.

    The nightly runs ask about the same period by category, time of day and source; querying
    a million points for each of them took most of the night's time. Each run's reports are
    picked from these arrays with the conditions ``report_conditions`` puts in SQL, so a run
    computed from here stores what it would have stored computed alone.
    """

    date_from: date
    date_to: date
    data_ends: datetime
    lon: np.ndarray
    lat: np.ndarray
    # Projected once for all the runs: each run projected its own points four times.
    x: np.ndarray
    y: np.ndarray
    epoch_s: np.ndarray
    ward_id: np.ndarray
    sensitive: np.ndarray
    category_id: np.ndarray
    # 1 after dark, 0 in daylight, -1 not known yet.
    dark: np.ndarray
    source: np.ndarray
    category_ids: dict[str, int]
    # `_reason_rows` of every report of the period (not the previous one).
    reason_rows: list[tuple[Any, ...]]
    # As in `RunPoints`; one `grid.Extents` for every run, so each extent's cells are worked
    # out once a night.
    extent: np.ndarray
    extents: grid.Extents
    periods: dict[tuple[date, date], np.ndarray] = field(
        default_factory=dict, repr=False, compare=False
    )

    def covers(self, parameters: RunParameters) -> bool:
        """Whether this run's reports are all here (same period, a choice told apart here)."""
        return (
            parameters.date_from == self.date_from.isoformat()
            and parameters.date_to == self.date_to.isoformat()
            and TimeOfDay(parameters.time_of_day) in _SHARED_TIMES
            and (parameters.source is None or parameters.source in HIDDEN_SOURCES)
        )

    def _selected(self, parameters: RunParameters) -> np.ndarray:
        keep = self.source == _source_wanted(parameters)
        if parameters.categories:
            ids = [self.category_ids[s] for s in parameters.categories if s in self.category_ids]
            keep &= np.isin(self.category_id, ids)
        time_of_day = TimeOfDay(parameters.time_of_day)
        if time_of_day is TimeOfDay.AFTER_DARK:
            keep &= self.dark == 1
        elif time_of_day is TimeOfDay.DAYLIGHT:
            keep &= self.dark == 0
        return keep

    def _between(self, date_from: date, date_to: date) -> np.ndarray:
        # Every run asks about the same two periods: each is worked out once.
        if (date_from, date_to) not in self.periods:
            start = start_of(date_from).timestamp()
            end = start_of(date_to + timedelta(days=1)).timestamp()
            self.periods[date_from, date_to] = (self.epoch_s >= start) & (self.epoch_s < end)
        return self.periods[date_from, date_to]

    def points(self, parameters: RunParameters) -> RunPoints:
        """What `run_points` returns for this run."""
        # Positions once, rather than a mask applied to each of seven arrays.
        in_period = self._between(self.date_from, self.date_to)
        rows = np.flatnonzero(self._selected(parameters) & in_period)
        return RunPoints(
            lon=self.lon[rows],
            lat=self.lat[rows],
            epoch_s=self.epoch_s[rows],
            ward_id=self.ward_id[rows],
            sensitive=self.sensitive[rows],
            projected=(self.x[rows], self.y[rows]),
            extent=self.extent[rows],
            extents=self.extents,
        )

    def previous_period(self, parameters: RunParameters) -> dict[str, Any]:
        """What `previous_period` returns for this run."""
        previous_from, previous_to = parameters.filters().previous()
        keep = self._selected(parameters) & self._between(previous_from, previous_to)
        return {
            "from": previous_from.isoformat(),
            "to": previous_to.isoformat(),
            "n_points": int(keep.sum()),
        }

    def reasons(self, parameters: RunParameters) -> list[dict[str, Any]]:
        """What `reasons_counted` returns for this run."""
        return _tally_reasons(self.reason_rows, parameters, category_ids=self.category_ids)


def fetch_shared_points(session: Session, date_from: date, date_to: date) -> SharedPoints:
    """One period's counted reports (and the previous period's) for `compute_run`'s
    ``shared``: one fetch of points and one count of reasons instead of three queries a run."""
    derive_after_dark(session)
    data_ends = datetime.now(UTC)
    previous_from, _ = BoardFilters(None, Period.CUSTOM, date_from, date_to).previous()
    common = {"categories": None, "time_of_day": TimeOfDay.ANY, "source": ALL_SOURCES}
    statement = (
        select(
            cast(func.ST_X(Report.location), Float),
            cast(func.ST_Y(Report.location), Float),
            cast(func.extract("epoch", event_time()), Float),
            cast(func.coalesce(Report.ward_id, -1), Float),
            cast(cast(Category.sensitive, Integer), Float),
            cast(Report.category_id, Float),
            cast(func.coalesce(cast(Report.after_dark, Integer), -1), Float),
            cast(_source_code(), Float),
            cast(func.coalesce(Report.place_extent_id, -1), Float),
        )
        .join(Category, Category.id == Report.category_id)
        .where(
            *report_conditions(
                session, date_from=min(previous_from, date_from), date_to=date_to, **common
            )
        )
    )
    data = _fetch_float_columns(session, statement, 9)
    extent, extents = load_extents(session, data[:, 8].astype(np.int64))
    x, y = projection.to_bng(data[:, 0], data[:, 1])
    in_period = report_conditions(session, date_from=date_from, date_to=date_to, **common)
    # Each supporter once, with their own reasons and time, as in `reasons_counted`.
    reason_rows = _reason_rows(session, reporters=in_period, supporters=in_period)
    return SharedPoints(
        date_from=date_from,
        date_to=date_to,
        data_ends=data_ends,
        lon=data[:, 0],
        lat=data[:, 1],
        x=x,
        y=y,
        epoch_s=data[:, 2],
        ward_id=data[:, 3].astype(np.int64),
        sensitive=data[:, 4].astype(bool),
        category_id=data[:, 5].astype(np.int64),
        dark=data[:, 6].astype(np.int64),
        source=data[:, 7].astype(np.int64),
        category_ids=dict(session.execute(select(Category.slug, Category.id)).all()),
        reason_rows=reason_rows,
        extent=extent,
        extents=extents,
    )


def compute_runs(
    sessions: Callable[[], AbstractContextManager[Session]],
    run_ids: Sequence[int],
    *,
    study_area: BaseGeometry,
    on_error: Callable[[int, Exception], None] | None = None,
) -> int:
    """Compute several queued runs (the nightly ones), each in its own transaction, with
    the reports of their most common period fetched once; how many were computed.

    ``on_error`` is told of a run that failed (and the others go on); without it the error
    is raised.
    """
    with sessions() as session:
        periods = Counter(
            (params["date_from"], params["date_to"])
            for params in session.scalars(
                select(HotspotRun.parameters).where(
                    HotspotRun.id.in_(list(run_ids)), HotspotRun.status == RunStatus.QUEUED
                )
            )
        )
        shared = None
        if periods:
            (date_from, date_to), _ = periods.most_common(1)[0]
            shared = fetch_shared_points(
                session, date.fromisoformat(date_from), date.fromisoformat(date_to)
            )
    computed = 0
    for run_id in run_ids:
        try:
            with sessions() as session:
                computed += compute_run(session, run_id, study_area=study_area, shared=shared)
        except Exception as error:
            if on_error is None:
                raise
            on_error(run_id, error)
    return computed


def compute_run(
    session: Session,
    run_id: int,
    *,
    study_area: BaseGeometry,
    shared: SharedPoints | None = None,
) -> bool:
    """Compute a queued run and store its cells; False when there was nothing to do.

    The run row is locked for the computation (a second worker skips it), and a run that is
    already done is left alone, so a redelivered task changes nothing. With ``shared``
    (`fetch_shared_points`) a run it covers takes its reports from there instead of
    querying them again; the results are the same.
    """
    run = session.scalar(
        select(HotspotRun).where(HotspotRun.id == run_id).with_for_update(skip_locked=True)
    )
    if run is None or run.status is RunStatus.DONE:
        return False
    parameters = RunParameters(**run.parameters)
    session.execute(delete(HotspotCell).where(HotspotCell.run_id == run.id))
    if shared is not None and shared.covers(parameters):
        data_ends = shared.data_ends
        points = shared.points(parameters)
        previous = shared.previous_period(parameters)
        reasons = shared.reasons(parameters)
    else:
        derive_after_dark(session)
        # Reports received after this moment are not in the run.
        data_ends = datetime.now(UTC)
        points = run_points(session, parameters)
        previous = previous_period(session, parameters)
        reasons = reasons_counted(session, parameters)
    # Reports placed from a typed street or place count in the cells of its extent.
    spread = points.pieces(parameters.cell_size_m)
    lon, lat = (points.lon, points.lat) if spread is None else (spread.lon, spread.lat)
    projected = points.projected if spread is None else spread.projected
    weights = None if spread is None else spread.weight
    result = hotspots.compute_hotspots(
        lon,
        lat,
        cell_size_m=parameters.cell_size_m,
        neighbourhood_cells=parameters.neighbourhood_cells,
        permutations=parameters.permutations,
        seed=parameters.seed,
        mask=study_area,
        p_source=parameters.p_source,  # type: ignore[arg-type]
        projected=projected,
        weights=weights,
    )
    heat = density.kernel_density(
        lon,
        lat,
        grid=result.grid,
        bandwidth_m=parameters.bandwidth_m,
        projected=projected,
        weights=weights,
    )
    date_from = date.fromisoformat(parameters.date_from)
    date_to = date.fromisoformat(parameters.date_to)
    trend = None
    if points.lon.size and parameters.windows >= 2:
        windows = _window_index(points.epoch_s, date_from, date_to, parameters.windows)
        spread_windows = points.pieces(parameters.cell_size_m, group=windows)
        if spread_windows is None:
            counts = grid.bin_points_windows(
                points.lon,
                points.lat,
                windows,
                parameters.windows,
                result.grid,
                projected=points.projected,
            )
        else:
            counts = grid.bin_points_windows(
                spread_windows.lon,
                spread_windows.lat,
                spread_windows.group,
                parameters.windows,
                result.grid,
                projected=spread_windows.projected,
                weights=spread_windows.weight,
            )
        trend = emerging.emerging_hotspots(
            counts, kernel=result.kernel, mask=result.mask, p_source="auto"
        )
    profile = suntimes.time_profile(points.epoch_s.astype("datetime64[s]"))
    stored = store_cells(session, cell_rows(run.id, result, heat, trend))
    event_range = (
        [
            datetime.fromtimestamp(float(t), UTC).isoformat()
            for t in (points.epoch_s.min(), points.epoch_s.max())
        ]
        if points.epoch_s.size
        else [None, None]
    )

    categories = parameters.categories
    sensitive_slugs = set(session.scalars(select(Category.slug).where(Category.sensitive)))
    density_info = {"bandwidth_m": heat.bandwidth_m, "rule": heat.rule}
    run.summary = {
        "n_points": int(points.lon.size),
        # Reports sent after ``data_ends`` are not in the run, which is why a run can count
        # fewer reports than the page's live figures.
        "data": {
            "period_from": parameters.date_from,
            "period_to": parameters.date_to,
            "first_report": event_range[0],
            "last_report": event_range[1],
            "data_ends": data_ends.isoformat(),
        },
        "previous_period": previous,
        "reasons": reasons,
        "n_sensitive": int(points.sensitive.sum()),
        "includes_sensitive": categories is None or bool(sensitive_slugs & set(categories)),
        "cells_stored": stored,
        "label_counts": result.label_counts(),
        "meanings": dict(significance.PLAIN_WORDS),
        "p_name": P_NAMES.get(str(result.params["p_source"]), str(result.params["p_source"])),
        "statistics": result.params,
        "density": density_info,
        "emerging": None
        if trend is None
        else {
            **trend.params,
            "counts": {
                name: int((trend.categories[result.mask] == name).sum())
                for name in ("new", "intensifying", "persistent", "diminishing")
            },
        },
        "grid": {
            "x0": result.grid.x0,
            "y0": result.grid.y0,
            "cell_size": result.grid.cell_size,
            "nx": result.grid.nx,
            "ny": result.grid.ny,
        },
        "time_profile": profile.tolist(),
        "correlation": _correlation(session, points, parameters),
        "method": _method_text(result.params, density_info),
    }
    run.status = RunStatus.DONE
    run.computed_at = datetime.now(UTC)
    run.error = None
    session.flush()
    logger.info("Hotspot run %s: %d reports, %s", run.id, points.lon.size, result.label_counts())
    return True


def mark_run_failed(session: Session, run_id: int, message: str) -> None:
    """Record why a run could not be computed, so that the board can say so."""
    run = session.get(HotspotRun, run_id)
    if run is not None and run.status is not RunStatus.DONE:
        run.status = RunStatus.FAILED
        run.error = message[:2000]
        session.flush()
