"""The safety board: filters, stored hotspot runs, aggregates, partner performance and
"you said, we did".

Statistics (Gi*, FDR, kernel density, emerging hot spots, rank correlation) come only from
``geo.hotspots`` and only in `compute_run`, which the worker calls; everything the board
shows on a request is read from stored runs or counted in SQL.

Who sees what (the *audience*):

- ``board`` (board and admin accounts): everything, including exact report points and
  row-level exports.
- ``partner`` (partner staff): the aggregate board. Sensitive categories (harassment,
  weapons) appear only in aggregate: a count of a sensitive category below the minimum is
  withheld and left out of every total it would be part of, and map cells of runs that
  include sensitive reports are drawn only when they hold at least the minimum count.
- ``public``: the published "you said, we did" summaries, with the same rule.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from geo import hotspots
from geo.maps import BoardLayers
from safer_streets.errors import InvalidInput, NotAllowed, NotFound
from safer_streets.models import (
    Area,
    Category,
    HotspotCell,
    HotspotRun,
    Partner,
    PoliceCrime,
    PublishedSummary,
    Report,
    ReportEvent,
    ReportStatus,
    Role,
    RunStatus,
    User,
    Ward,
)

logger = logging.getLogger(__name__)
LONDON = ZoneInfo("Europe/London")

# Reports that are not separate problems (duplicates) or not Lewisham's are never counted.
EXCLUDED_STATUSES = (ReportStatus.DUPLICATE, ReportStatus.OUT_OF_AREA)
DEFAULT_CELL_SIZE_M = 100.0
DEFAULT_WINDOWS = 6
PENDING_RUN_MAX_AGE = timedelta(hours=1)
RUN_RETENTION = timedelta(days=90)
EARLIEST_DATE = date(2000, 1, 1)
MAX_RANGE_DAYS = 366 * 10
NOT_PLACED = "Not yet placed"


# --------------------------------------------------------------------------- audience


class Audience(enum.StrEnum):
    """Who is looking, which decides what is withheld."""

    BOARD = "board"
    PARTNER = "partner"
    PUBLIC = "public"


def audience_for(user: User | None) -> Audience:
    """Board and admin accounts see everything; partner staff the aggregate board."""
    if user is None:
        return Audience.PUBLIC
    if user.role in (Role.BOARD, Role.ADMIN):
        return Audience.BOARD
    return Audience.PARTNER


def require_board(user: User | None) -> User:
    """The user, when they hold a board or admin role; ``NotAllowed`` otherwise."""
    if user is None or audience_for(user) is not Audience.BOARD:
        raise NotAllowed("Only the safety board and administrators may do this.")
    return user


# ---------------------------------------------------------------------------- filters


class Period(enum.StrEnum):
    """Reporting periods; the presets move with the calendar, so runs for them stay valid."""

    LAST_3_MONTHS = "3m"
    LAST_12_MONTHS = "12m"
    LAST_24_MONTHS = "24m"
    CUSTOM = "custom"

    @property
    def label(self) -> str:
        """The period in words."""
        return {
            "3m": "Last 3 months",
            "12m": "Last 12 months",
            "24m": "Last 24 months",
            "custom": "Dates below",
        }[self.value]

    @property
    def months(self) -> int | None:
        """Length of a preset period in months."""
        return {"3m": 3, "12m": 12, "24m": 24}.get(self.value)


class TimeOfDay(enum.StrEnum):
    """When in the day a report's event happened (London time; after dark from the sun)."""

    ANY = "any"
    AFTER_DARK = "after-dark"
    DAYLIGHT = "daylight"
    NIGHT = "night"
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"

    @property
    def label(self) -> str:
        """The choice in words."""
        return {
            "any": "Any time",
            "after-dark": "After dark (sunset to sunrise)",
            "daylight": "In daylight",
            "night": "Night, 00:00–06:00",
            "morning": "Morning, 06:00–12:00",
            "afternoon": "Afternoon, 12:00–18:00",
            "evening": "Evening, 18:00–24:00",
        }[self.value]

    @property
    def hours(self) -> tuple[int, int] | None:
        """The local hours ``[start, end)`` of a clock-based choice."""
        return {
            "night": (0, 6),
            "morning": (6, 12),
            "afternoon": (12, 18),
            "evening": (18, 24),
        }.get(self.value)


@dataclass(frozen=True)
class BoardFilters:
    """What the board is looking at. Dates are London calendar dates, both inclusive."""

    category: str | None
    period: Period
    date_from: date
    date_to: date
    time_of_day: TimeOfDay = TimeOfDay.ANY
    ward: str | None = None
    area: str | None = None

    def query_args(self) -> dict[str, str]:
        """The filters as URL query arguments (round-trips through `parse_filters`)."""
        args = {"period": self.period.value, "time": self.time_of_day.value}
        if self.period is Period.CUSTOM:
            args |= {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.category:
            args["category"] = self.category
        if self.ward:
            args["ward"] = self.ward
        if self.area:
            args["area"] = self.area
        return args

    def run_filters(self) -> dict[str, Any]:
        """The part of the filters a hotspot run is computed for (ward and area only zoom)."""
        spec: dict[str, Any] = {
            "categories": [self.category] if self.category else None,
            "period": self.period.value,
            "time_of_day": self.time_of_day.value,
        }
        if self.period is Period.CUSTOM:
            spec |= {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}
        return spec

    @property
    def days(self) -> int:
        """Length of the period in days."""
        return (self.date_to - self.date_from).days + 1

    def previous(self) -> tuple[date, date]:
        """The period of the same length just before this one, for comparison."""
        return self.date_from - timedelta(days=self.days), self.date_from - timedelta(days=1)


def months_before(day: date, months: int) -> date:
    """The same day of the month ``months`` earlier (clamped to the month's length)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for candidate in range(day.day, 0, -1):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def preset_dates(period: Period, today: date) -> tuple[date, date]:
    """The dates of a preset period ending today."""
    months = period.months or 12
    return months_before(today, months) + timedelta(days=1), today


def _parse_date(raw: str, field_name: str, errors: dict[str, str]) -> date | None:
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        errors[field_name] = f"must be a date like 2025-03-31, not {raw[:40]!r}"
        return None
    if value < EARLIEST_DATE:
        errors[field_name] = f"must be on or after {EARLIEST_DATE.isoformat()}"
        return None
    return value


def parse_filters(
    args: Mapping[str, str],
    *,
    today: date,
    categories: Sequence[str],
    wards: Sequence[str],
    areas: Sequence[str],
) -> BoardFilters:
    """Read the filter form (query arguments) or raise ``InvalidInput`` naming each field."""
    errors: dict[str, str] = {}

    def choice(name: str, allowed: Sequence[str], what: str) -> str | None:
        value = (args.get(name) or "").strip()
        if value and value not in allowed:
            errors[name] = f"unknown {what} {value[:60]!r}"
            return None
        return value or None

    category = choice("category", categories, "category")
    ward = choice("ward", wards, "ward")
    area = choice("area", areas, "area")
    period_raw = (args.get("period") or Period.LAST_12_MONTHS.value).strip()
    time_raw = (args.get("time") or TimeOfDay.ANY.value).strip()
    period = Period.LAST_12_MONTHS
    if period_raw in set(Period):
        period = Period(period_raw)
    else:
        errors["period"] = f"unknown period {period_raw[:40]!r}"
    time_of_day = TimeOfDay.ANY
    if time_raw in set(TimeOfDay):
        time_of_day = TimeOfDay(time_raw)
    else:
        errors["time"] = f"unknown time of day {time_raw[:40]!r}"

    date_from, date_to = preset_dates(period, today)
    if period is Period.CUSTOM:
        raw_from = (args.get("from") or "").strip()
        raw_to = (args.get("to") or "").strip()
        parsed_from = _parse_date(raw_from, "from", errors) if raw_from else None
        parsed_to = _parse_date(raw_to, "to", errors) if raw_to else today
        if not raw_from:
            errors["from"] = "is required for a custom period"
        if parsed_from and parsed_to:
            if parsed_from > parsed_to:
                errors["to"] = "must be on or after the start date"
            elif (parsed_to - parsed_from).days > MAX_RANGE_DAYS:
                errors["to"] = "the period can be at most ten years"
            else:
                date_from, date_to = parsed_from, parsed_to
    if errors:
        raise InvalidInput(errors)
    return BoardFilters(
        category=category,
        period=period,
        date_from=date_from,
        date_to=date_to,
        time_of_day=time_of_day,
        ward=ward,
        area=area,
    )


def default_filters(today: date) -> BoardFilters:
    """All categories over the last twelve months at any time of day."""
    start, end = preset_dates(Period.LAST_12_MONTHS, today)
    return BoardFilters(None, Period.LAST_12_MONTHS, start, end)


@dataclass(frozen=True)
class Option:
    """One choice of a filter."""

    value: str
    label: str
    sensitive: bool = False


@dataclass(frozen=True)
class FilterOptions:
    """The choices of the filter form."""

    categories: list[Option]
    wards: list[Option]
    areas: list[Option]

    def values(self) -> dict[str, list[str]]:
        """Allowed values per filter, as `parse_filters` wants them."""
        return {
            "categories": [o.value for o in self.categories],
            "wards": [o.value for o in self.wards],
            "areas": [o.value for o in self.areas],
        }


def filter_options(session: Session) -> FilterOptions:
    """Categories, active wards and named areas to filter by."""
    categories = [
        Option(c.slug, c.name, c.sensitive)
        for c in session.scalars(select(Category).order_by(Category.position))
    ]
    wards = [
        Option(w.slug, w.name)
        for w in session.scalars(select(Ward).where(Ward.active).order_by(Ward.name))
    ]
    areas = [Option(a.slug, a.name) for a in session.scalars(select(Area).order_by(Area.name))]
    return FilterOptions(categories, wards, areas)


# ---------------------------------------------------------------------- report query


def event_time() -> ColumnElement[datetime]:
    """When the problem happened: the reporter's time if given, else when it was reported."""
    return func.coalesce(Report.occurred_at, Report.created_at)


def _local(moment: ColumnElement[datetime]) -> ColumnElement[datetime]:
    return func.timezone("Europe/London", moment)


def _start_of(day: date) -> datetime:
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
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the reports a filter selects (joins ``category``)."""
    when = event_time()
    conditions: list[ColumnElement[bool]] = [
        Report.location.is_not(None),
        Report.status.not_in(EXCLUDED_STATUSES),
        when >= _start_of(date_from),
        when < _start_of(date_to + timedelta(days=1)),
    ]
    if categories:
        conditions.append(Category.slug.in_(list(categories)))
    if time_of_day is TimeOfDay.AFTER_DARK:
        conditions.append(Report.after_dark.is_(True))
    elif time_of_day is TimeOfDay.DAYLIGHT:
        conditions.append(Report.after_dark.is_(False))
    elif time_of_day.hours is not None:
        start, end = time_of_day.hours
        hour = func.extract("hour", _local(when))
        conditions.append(and_(hour >= start, hour < end))
    if ward:
        conditions.append(Report.ward_id.in_(select(Ward.id).where(Ward.slug == ward, Ward.active)))
    if area:
        area_geom = select(Area.geom).where(Area.slug == area).scalar_subquery()
        conditions.append(func.ST_Covers(area_geom, Report.location))
    return conditions


def _filter_conditions(session: Session, filters: BoardFilters, **overrides: Any) -> list[Any]:
    spec = {
        "categories": [filters.category] if filters.category else None,
        "date_from": filters.date_from,
        "date_to": filters.date_to,
        "time_of_day": filters.time_of_day,
        "ward": filters.ward,
        "area": filters.area,
    } | overrides
    return report_conditions(session, **spec)


def derive_after_dark(session: Session) -> int:
    """Fill in ``after_dark`` (sunset to sunrise at Lewisham) where it is still unknown."""
    rows = session.execute(select(Report.id, event_time()).where(Report.after_dark.is_(None))).all()
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    dark = hotspots.after_dark([row[1] for row in rows]).tolist()
    session.execute(
        text(
            "UPDATE report SET after_dark = d.dark "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:dark AS boolean[])) AS d(id, dark) "
            "WHERE report.id = d.id"
        ),
        {"ids": ids, "dark": dark},
    )
    return len(ids)


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
    p_source: str = "auto"

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
        )

    def filters(self) -> BoardFilters:
        """The board filters this run answers (without ward or area)."""
        return BoardFilters(
            category=self.categories[0] if self.categories else None,
            period=Period(self.period),
            date_from=date.fromisoformat(self.date_from),
            date_to=date.fromisoformat(self.date_to),
            time_of_day=TimeOfDay(self.time_of_day),
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


def schedule_nightly_runs(
    session: Session, *, today: date, permutations: int, seed: int, force: bool = False
) -> list[int]:
    """Queue the nightly runs: all categories, each category, and all categories after dark.

    A filter set that already has a run computed today, or one waiting, is skipped (unless
    ``force``, for when the reports have just changed), so a second beat on the same night
    adds nothing.
    """
    base = default_filters(today)
    wanted = [base, replace(base, time_of_day=TimeOfDay.AFTER_DARK)]
    wanted += [
        replace(base, category=slug)
        for slug in session.scalars(select(Category.slug).order_by(Category.position))
    ]
    midnight = _start_of(today)
    queued = []
    for filters in wanted:
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


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_float_columns(session: Session, statement: Select[Any], columns: int) -> np.ndarray:
    """Run a SELECT of float8 columns through binary COPY into an ``(n, columns)`` array.

    One round trip and no Python object per value: for a million reports this is several
    times faster than fetching rows (see bench/bench_board.py). Every column must be a
    non-null float8.
    """
    compiled = statement.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    raw = session.connection().connection.driver_connection
    buffer = bytearray()
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY ({compiled.string}) TO STDOUT (FORMAT BINARY)", compiled.params) as copy,
    ):
        for chunk in copy:
            buffer += chunk
    if not buffer.startswith(_COPY_SIGNATURE):
        raise RuntimeError("unexpected COPY output")
    extension = int.from_bytes(buffer[15:19], "big")
    body = memoryview(buffer)[19 + extension : len(buffer) - 2]
    fields = [("n", ">i2")]
    for k in range(columns):
        fields += [(f"len{k}", ">i4"), (f"v{k}", ">f8")]
    rows = np.frombuffer(body, dtype=np.dtype(fields))
    if rows.size and (
        (rows["n"] != columns).any() or any((rows[f"len{k}"] != 8).any() for k in range(columns))
    ):
        raise RuntimeError("COPY returned a NULL or a column that is not float8")
    return np.column_stack([rows[f"v{k}"].astype(np.float64) for k in range(columns)])


def run_points(session: Session, parameters: RunParameters) -> RunPoints:
    """The filtered reports' locations, times, wards and sensitivity, set-based."""
    conditions = report_conditions(
        session,
        categories=parameters.categories,
        date_from=date.fromisoformat(parameters.date_from),
        date_to=date.fromisoformat(parameters.date_to),
        time_of_day=TimeOfDay(parameters.time_of_day),
    )
    statement = (
        select(
            cast(func.ST_X(Report.location), Float),
            cast(func.ST_Y(Report.location), Float),
            cast(func.extract("epoch", event_time()), Float),
            cast(func.coalesce(Report.ward_id, -1), Float),
            cast(cast(Category.sensitive, Integer), Float),
        )
        .join(Category, Category.id == Report.category_id)
        .where(*conditions)
    )
    data = _copy_float_columns(session, statement, 5)
    return RunPoints(
        lon=data[:, 0],
        lat=data[:, 1],
        epoch_s=data[:, 2],
        ward_id=data[:, 3].astype(np.int64),
        sensitive=data[:, 4].astype(bool),
    )


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
    span = len(_month_starts(date_from, date_to))
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
    result = hotspots.rank_correlation([r["reports"] for r in rows], [r["crimes"] for r in rows])
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


def _cell_rows(
    run_id: int,
    result: hotspots.HotspotResult,
    density: hotspots.DensityResult,
    emerging: hotspots.EmergingResult | None,
) -> Iterator[tuple[Any, ...]]:
    iy, ix = np.nonzero(result.mask)
    rings = np.round(result.grid.cell_polygons_lonlat(iy, ix), 6)
    p_sim = result.p_sim_two_sided
    for k in range(iy.size):
        r, c = int(iy[k]), int(ix[k])
        ring = ",".join(f"{x:.6f} {y:.6f}" for x, y in rings[k])
        trend = str(emerging.categories[r, c]) if emerging is not None else "none"
        yield (
            run_id,
            r,
            c,
            f"SRID=4326;POLYGON(({ring}))",
            int(result.counts[r, c]),
            float(result.z[r, c]),
            float(result.p[r, c]),
            None if p_sim is None else float(p_sim[r, c]),
            float(result.q[r, c]),
            int(result.gi_bin[r, c]),
            str(result.labels[r, c]),
            float(density.density[r, c]),
            None if trend in ("none", hotspots.OUTSIDE) else trend,
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
    start = _start_of(date_from).timestamp()
    end = _start_of(date_to + timedelta(days=1)).timestamp()
    width = (end - start) / windows
    index = np.floor((epoch_s - start) / width).astype(np.int64)
    return np.clip(index, 0, windows - 1)


def _method_text(params: Mapping[str, Any], density: Mapping[str, Any]) -> str:
    size = params.get("neighbourhood_size", 9)
    source = {
        "exact": "exact conditional-randomisation p-values",
        "permutation": f"permutation p-values ({params.get('permutations')} permutations)",
        "analytical": "normal-approximation p-values",
    }.get(params.get("p_source", ""), params.get("p_source", ""))
    perms = params.get("permutations") or 0
    also = (
        f" ({perms} conditional permutations also run, seed {params.get('seed')})"
        if perms and params.get("p_source") != "permutation"
        else ""
    )
    return (
        f"Getis-Ord Gi* on {params.get('cell_size_m', 100):.0f} m cells of the British "
        f"National Grid inside the borough ({params.get('n_cells', 0):,} cells), each cell "
        f"with its {size - 1} neighbours, {source}{also}; hot and cold spots after "
        f"Benjamini–Hochberg false-discovery-rate control at 10 %, 5 % and 1 % (90, 95 and "
        f"99 % confidence). Kernel density: Gaussian, bandwidth {density['bandwidth_m']:.0f} m "
        f"({density['rule']})."
    )


def compute_run(session: Session, run_id: int, *, study_area: BaseGeometry) -> bool:
    """Compute a queued run and store its cells; False when there was nothing to do.

    The run row is locked for the computation (a second worker skips it), and a run that is
    already done is left alone, so a redelivered task changes nothing.
    """
    run = session.scalar(
        select(HotspotRun).where(HotspotRun.id == run_id).with_for_update(skip_locked=True)
    )
    if run is None or run.status is RunStatus.DONE:
        return False
    parameters = RunParameters(**run.parameters)
    session.execute(delete(HotspotCell).where(HotspotCell.run_id == run.id))
    derive_after_dark(session)
    points = run_points(session, parameters)
    result = hotspots.compute_hotspots(
        points.lon,
        points.lat,
        cell_size_m=parameters.cell_size_m,
        neighbourhood_cells=parameters.neighbourhood_cells,
        permutations=parameters.permutations,
        seed=parameters.seed,
        mask=study_area,
        p_source=parameters.p_source,  # type: ignore[arg-type]
    )
    density = hotspots.kernel_density(
        points.lon, points.lat, grid=result.grid, bandwidth_m=parameters.bandwidth_m
    )
    date_from = date.fromisoformat(parameters.date_from)
    date_to = date.fromisoformat(parameters.date_to)
    emerging = None
    if points.lon.size and parameters.windows >= 2:
        windows = _window_index(points.epoch_s, date_from, date_to, parameters.windows)
        counts = hotspots.bin_points_windows(
            points.lon, points.lat, windows, parameters.windows, result.grid
        )
        emerging = hotspots.emerging_hotspots(
            counts, kernel=result.kernel, mask=result.mask, p_source="auto"
        )
    profile = hotspots.time_profile(points.epoch_s.astype("datetime64[s]"))
    stored = store_cells(session, _cell_rows(run.id, result, density, emerging))

    categories = parameters.categories
    sensitive_slugs = set(session.scalars(select(Category.slug).where(Category.sensitive)))
    density_info = {"bandwidth_m": density.bandwidth_m, "rule": density.rule}
    run.summary = {
        "n_points": int(points.lon.size),
        "n_sensitive": int(points.sensitive.sum()),
        "includes_sensitive": categories is None or bool(sensitive_slugs & set(categories)),
        "cells_stored": stored,
        "label_counts": result.label_counts(),
        "statistics": result.params,
        "density": density_info,
        "emerging": None
        if emerging is None
        else {
            **emerging.params,
            "counts": {
                name: int((emerging.categories[result.mask] == name).sum())
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


# -------------------------------------------------------------------- suppression


@dataclass(frozen=True)
class Shown:
    """A count as the viewer may see it: None when withheld, partial when a part is."""

    value: int | None
    partial: bool = False

    def __str__(self) -> str:
        if self.value is None:
            return "withheld"
        return f"{self.value:,}" + ("*" if self.partial else "")


def shown(ordinary: int, sensitive: int, *, audience: Audience, min_count: int) -> Shown:
    """A count of ordinary plus sensitive reports as ``audience`` may see it.

    Outside the board a sensitive part below ``min_count`` is withheld: it is left out of
    the total, which is then marked partial (and withheld entirely when nothing is left).
    """
    if audience is Audience.BOARD or sensitive == 0 or sensitive >= min_count:
        return Shown(ordinary + sensitive)
    if ordinary == 0:
        return Shown(None)
    return Shown(ordinary, partial=True)


# ------------------------------------------------------------------------ dashboard


@dataclass(frozen=True)
class WardRow:
    """Reports in one ward now and in the previous period, and recorded crime."""

    slug: str | None
    name: str
    current: Shown
    previous: Shown
    crimes: int

    @property
    def change(self) -> str:
        """Change against the previous period in words."""
        now, before = self.current.value, self.previous.value
        if now is None or before is None:
            return "—"
        if before == 0:
            return "new" if now else "—"
        return f"{(now - before) / before:+.0%}"


@dataclass(frozen=True)
class CategoryRow:
    """Reports of one category now and in the previous period."""

    slug: str
    name: str
    sensitive: bool
    current: Shown
    previous: Shown

    change = WardRow.change


@dataclass(frozen=True)
class Trend:
    """Monthly counts for one ward or category."""

    name: str
    counts: list[Shown]


@dataclass(frozen=True)
class PartnerRow:
    """How one partner responded to the reports it owns."""

    name: str
    reports: int
    hours_to_acknowledge: int | None
    hours_to_resolve: int | None
    acknowledged: int
    acknowledged_in_time: int
    acknowledge_breaches: int
    median_hours_to_acknowledge: float | None
    resolved: int
    resolved_in_time: int
    resolve_breaches: int
    median_days_to_resolve: float | None

    @property
    def acknowledged_in_time_share(self) -> str:
        """Share of acknowledged reports acknowledged within the SLA."""
        return f"{self.acknowledged_in_time / self.acknowledged:.0%}" if self.acknowledged else "—"

    @property
    def resolved_in_time_share(self) -> str:
        """Share of resolved reports resolved within the SLA."""
        return f"{self.resolved_in_time / self.resolved:.0%}" if self.resolved else "—"


@dataclass(frozen=True)
class SaidDidLine:
    """In one ward: what residents reported about one category, and what was done."""

    category: str
    reported: Shown
    resolved: Shown


@dataclass(frozen=True)
class SaidDidWard:
    """A "you said, we did" entry for one ward."""

    ward: str
    lines: list[SaidDidLine]
    actions: list[str]


@dataclass(frozen=True)
class RunView:
    """A stored run as the board shows it."""

    id: int
    computed_at: datetime
    summary: dict[str, Any]
    parameters: dict[str, Any]

    @property
    def label_counts(self) -> dict[str, int]:
        """Analysed cells per label."""
        return self.summary.get("label_counts", {})

    @property
    def hot_cells(self) -> int:
        """Cells that are hot spots at any confidence."""
        return sum(v for k, v in self.label_counts.items() if k.startswith("hot"))

    @property
    def cold_cells(self) -> int:
        """Cells that are cold spots at any confidence."""
        return sum(v for k, v in self.label_counts.items() if k.startswith("cold"))

    @property
    def correlation(self) -> dict[str, Any]:
        """Reports against recorded crime per ward, as stored with the run."""
        return self.summary.get("correlation") or {"available": False}


@dataclass(frozen=True)
class Overview:
    """The board's first page for one viewer and one set of filters: the stored run, totals
    against the previous period, reports by ward and category, and recorded crime."""

    filters: BoardFilters
    audience: Audience
    min_count: int
    run: RunView | None
    pending: bool
    total: Shown
    previous_total: Shown
    wards: list[WardRow]
    categories: list[CategoryRow]
    crimes: int
    crime_months: tuple[date, date] | None
    point_count: int
    points_allowed: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrendView:
    """Monthly trends per category and ward, and the day-of-week by hour profile."""

    filters: BoardFilters
    audience: Audience
    min_count: int
    months: list[date]
    ward_trends: list[Trend]
    category_trends: list[Trend]
    profile: list[list[Shown]]
    profile_max: int
    notes: list[str] = field(default_factory=list)

    @property
    def profile_hours(self) -> range:
        """Hours of the day (columns of the profile)."""
        return range(24)

    def profile_level(self, cell: Shown) -> int:
        """Shade 0-5 of a profile cell (for CSS classes; no inline styles under the CSP)."""
        if cell.value is None or not self.profile_max:
            return 0
        return min(5, math.ceil(5 * cell.value / self.profile_max))


def _to_run_view(run: HotspotRun | None) -> RunView | None:
    if run is None or run.computed_at is None:
        return None
    return RunView(run.id, run.computed_at, run.summary, run.parameters)


def _month_starts(date_from: date, date_to: date) -> list[date]:
    months, cursor = [], date_from.replace(day=1)
    while cursor <= date_to:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


POPULATION_NOTE = (
    "Rates per 1,000 residents need ward populations, which Safer Streets does not ship yet: "
    "the ward figures are counts, and larger wards will have more reports."
)


def _withheld_note(min_count: int) -> str:
    return (
        f"Counts of harassment and weapons reports below {min_count} are withheld (shown as c), "
        "and totals marked * leave them out."
    )


def _period_counts(
    session: Session, filters: BoardFilters
) -> dict[bool, dict[tuple[int | None, int, bool], int]]:
    """Reports per (ward, category, sensitive) in this period (True) and the one before."""
    previous_from, _ = filters.previous()
    current = (event_time() >= _start_of(filters.date_from)).label("current")
    rows = session.execute(
        select(current, Report.ward_id, Report.category_id, Category.sensitive, func.count())
        .join(Category, Category.id == Report.category_id)
        .where(*_filter_conditions(session, filters, date_from=previous_from))
        .group_by(current, Report.ward_id, Report.category_id, Category.sensitive)
    ).all()
    out: dict[bool, dict[tuple[int | None, int, bool], int]] = {True: {}, False: {}}
    for is_current, ward_id, category_id, sensitive, n in rows:
        out[bool(is_current)][(ward_id, category_id, sensitive)] = n
    return out


def ward_category_counts(
    session: Session, filters: BoardFilters
) -> dict[tuple[int | None, int, bool], int]:
    """Reports per (ward, category, sensitive) for the filters: the map's ward layer."""
    rows = session.execute(
        select(Report.ward_id, Report.category_id, Category.sensitive, func.count())
        .join(Category, Category.id == Report.category_id)
        .where(*_filter_conditions(session, filters))
        .group_by(Report.ward_id, Report.category_id, Category.sensitive)
    ).all()
    return {(ward_id, category_id, sensitive): n for ward_id, category_id, sensitive, n in rows}


def ward_total(
    counts: Mapping[tuple[int | None, int, bool], int],
    ward_id: int | None,
    *,
    audience: Audience,
    min_count: int,
) -> Shown:
    """A ward's reports as the viewer may see them: the sum of what may be shown per category,
    so that no sensitive count can be recovered by subtracting the categories from it."""
    total, partial = 0, False
    for (ward, _category_id, sensitive), n in counts.items():
        if ward != ward_id:
            continue
        part = shown(
            0 if sensitive else n, n if sensitive else 0, audience=audience, min_count=min_count
        )
        if part.value is None:
            partial = True
        else:
            total += part.value
    return Shown(total, partial)


def _split(counts: Mapping[tuple[Any, ...], int], key: tuple[Any, ...]) -> tuple[int, int]:
    return counts.get((*key, False), 0), counts.get((*key, True), 0)


def partner_performance(session: Session, filters: BoardFilters) -> list[PartnerRow]:
    """Time to acknowledge and resolve against each owner partner's SLA, with breaches.

    Due times are the report's own where triage set them, else received time plus the
    partner's SLA hours. A breach is a report handled late or still open past its due time.
    """
    now = func.now()
    ack_due = func.coalesce(
        Report.acknowledge_due_at,
        Report.created_at + func.make_interval(0, 0, 0, 0, Partner.hours_to_acknowledge),
    )
    resolve_due = func.coalesce(
        Report.resolve_due_at,
        Report.created_at + func.make_interval(0, 0, 0, 0, Partner.hours_to_resolve),
    )
    hours = lambda a, b: func.extract("epoch", a - b) / 3600.0  # noqa: E731 - local shorthand
    rows = session.execute(
        select(
            Partner.name,
            Partner.hours_to_acknowledge,
            Partner.hours_to_resolve,
            func.count(),
            func.count(Report.acknowledged_at),
            func.count().filter(Report.acknowledged_at <= ack_due),
            func.count().filter(
                or_(
                    Report.acknowledged_at > ack_due,
                    and_(Report.acknowledged_at.is_(None), ack_due < now),
                )
            ),
            func.percentile_cont(0.5).within_group(
                hours(Report.acknowledged_at, Report.created_at)
            ),
            func.count(Report.resolved_at),
            func.count().filter(Report.resolved_at <= resolve_due),
            func.count().filter(
                or_(
                    Report.resolved_at > resolve_due,
                    and_(
                        Report.resolved_at.is_(None),
                        Report.status.in_(
                            (
                                ReportStatus.ROUTED,
                                ReportStatus.ACKNOWLEDGED,
                                ReportStatus.IN_PROGRESS,
                            )
                        ),
                        resolve_due < now,
                    ),
                )
            ),
            func.percentile_cont(0.5).within_group(hours(Report.resolved_at, Report.created_at)),
        )
        .join(Partner, Partner.id == Report.owner_partner_id)
        .join(Category, Category.id == Report.category_id)
        .where(*_filter_conditions(session, filters))
        .group_by(Partner.id)
        .order_by(Partner.name)
    ).all()
    return [
        PartnerRow(
            name=name,
            hours_to_acknowledge=sla_ack,
            hours_to_resolve=sla_res,
            reports=n,
            acknowledged=acked,
            acknowledged_in_time=ack_ok,
            acknowledge_breaches=ack_late,
            median_hours_to_acknowledge=None if ack_median is None else float(ack_median),
            resolved=resolved,
            resolved_in_time=res_ok,
            resolve_breaches=res_late,
            median_days_to_resolve=None if res_median is None else float(res_median) / 24.0,
        )
        for (
            name,
            sla_ack,
            sla_res,
            n,
            acked,
            ack_ok,
            ack_late,
            ack_median,
            resolved,
            res_ok,
            res_late,
            res_median,
        ) in rows
    ]


def you_said_we_did(
    session: Session,
    filters: BoardFilters,
    *,
    audience: Audience,
    min_count: int,
    actions_per_ward: int = 3,
) -> list[SaidDidWard]:
    """Per ward: reports per category and how many were resolved, with what was done.

    "What was done" is the public note of recent resolutions, never from a sensitive
    category; reporters' details are never part of it.
    """
    resolved = Report.status == ReportStatus.RESOLVED
    rows = session.execute(
        select(
            Ward.name,
            Category.name,
            Category.sensitive,
            func.count(),
            func.count().filter(resolved),
        )
        .join(Ward, Ward.id == Report.ward_id)
        .join(Category, Category.id == Report.category_id)
        .where(*_filter_conditions(session, filters))
        .group_by(Ward.name, Category.name, Category.sensitive, Category.position)
        .order_by(Ward.name, Category.position)
    ).all()
    lines: dict[str, list[SaidDidLine]] = defaultdict(list)
    for ward_name, category_name, sensitive, reported, done in rows:
        reported_shown = shown(
            0 if sensitive else reported,
            reported if sensitive else 0,
            audience=audience,
            min_count=min_count,
        )
        if reported_shown.value is None:
            continue
        lines[ward_name].append(
            SaidDidLine(
                category_name,
                reported_shown,
                shown(
                    0 if sensitive else done,
                    done if sensitive else 0,
                    audience=audience,
                    min_count=min_count,
                ),
            )
        )
    ranked = (
        select(
            Ward.name.label("ward"),
            ReportEvent.note,
            func.row_number()
            .over(partition_by=Ward.name, order_by=ReportEvent.at.desc())
            .label("rank"),
        )
        .join(Report, Report.id == ReportEvent.report_id)
        .join(Ward, Ward.id == Report.ward_id)
        .join(Category, Category.id == Report.category_id)
        .where(
            ReportEvent.public.is_(True),
            ReportEvent.to_status == ReportStatus.RESOLVED.value,
            ReportEvent.note.is_not(None),
            Category.sensitive.is_(False),
            *_filter_conditions(session, filters),
        )
        .subquery()
    )
    actions: dict[str, list[str]] = defaultdict(list)
    for ward_name, note in session.execute(
        select(ranked.c.ward, ranked.c.note).where(ranked.c.rank <= actions_per_ward)
    ):
        actions[ward_name].append(note)
    return [SaidDidWard(name, lines[name], actions.get(name, [])) for name in sorted(lines)]


def count_points(session: Session, filters: BoardFilters) -> int:
    """How many reports the filters select (to decide whether points may be drawn)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Report)
            .join(Category, Category.id == Report.category_id)
            .where(*_filter_conditions(session, filters))
        )
        or 0
    )


def overview(
    session: Session,
    user: User | None,
    filters: BoardFilters,
    *,
    min_count: int,
    point_limit: int,
) -> Overview:
    """The map page's figures: one scan of the reports, the stored run, recorded crime."""
    audience = audience_for(user)
    see = {"audience": audience, "min_count": min_count}
    counts = _period_counts(session, filters)
    wards = session.execute(
        select(Ward.id, Ward.slug, Ward.name).where(Ward.active).order_by(Ward.name)
    ).all()
    categories = session.execute(
        select(Category.id, Category.slug, Category.name, Category.sensitive).order_by(
            Category.position
        )
    ).all()
    crime_window = crime_months(session, filters.date_from, filters.date_to)
    crimes = crimes_per_ward(session, crime_window)
    ward_rows = [
        WardRow(
            slug,
            name,
            ward_total(counts[True], ward_id, **see),
            ward_total(counts[False], ward_id, **see),
            crimes.get(ward_id, 0),
        )
        for ward_id, slug, name in wards
    ]
    unplaced = ward_total(counts[True], None, **see)
    if unplaced.value:
        ward_rows.append(
            WardRow(None, NOT_PLACED, unplaced, ward_total(counts[False], None, **see), 0)
        )

    def category_total(period: bool, category_id: int, sensitive: bool) -> Shown:
        n = sum(v for (_w, c, _s), v in counts[period].items() if c == category_id)
        return shown(0 if sensitive else n, n if sensitive else 0, **see)

    category_rows = [
        CategoryRow(
            slug,
            name,
            sensitive,
            category_total(True, cid, sensitive),
            category_total(False, cid, sensitive),
        )
        for cid, slug, name, sensitive in categories
    ]

    def total(period: bool) -> Shown:
        rows = [r.current if period else r.previous for r in category_rows]
        withheld_any = any(v.value is None for v in rows)
        return Shown(sum(v.value or 0 for v in rows), withheld_any)

    withheld = any(r.current.partial or r.previous.partial for r in ward_rows) or any(
        r.current.value is None or r.previous.value is None for r in category_rows
    )
    point_count = sum(counts[True].values())
    notes = [POPULATION_NOTE]
    if withheld and audience is not Audience.BOARD:
        notes.append(_withheld_note(min_count))
    return Overview(
        filters=filters,
        audience=audience,
        min_count=min_count,
        run=_to_run_view(latest_run(session, filters)),
        pending=pending_run(session, filters) is not None,
        total=total(True),
        previous_total=total(False),
        wards=ward_rows,
        categories=category_rows,
        crimes=sum(crimes.values()),
        crime_months=crime_window,
        point_count=point_count,
        points_allowed=audience is Audience.BOARD and point_count < point_limit,
        notes=notes,
    )


def _time_counts(session: Session, filters: BoardFilters) -> dict[str, dict[tuple[Any, ...], int]]:
    """Counts per (category, month), (ward, month) and (day of week, hour), London time.

    One scan with GROUPING SETS: at a million reports that is one pass instead of three.
    """
    local = _local(event_time())
    base = (
        select(
            Report.ward_id.label("ward_id"),
            Report.category_id.label("category_id"),
            Category.sensitive.label("sensitive"),
            func.date_trunc("month", local).label("month"),
            cast(func.extract("isodow", local), Integer).label("dow"),
            cast(func.extract("hour", local), Integer).label("hour"),
        )
        .join(Category, Category.id == Report.category_id)
        .where(*_filter_conditions(session, filters))
        .subquery()
    )
    c = base.c
    sets = func.grouping_sets(
        tuple_(c.category_id, c.sensitive, c.month),
        tuple_(c.ward_id, c.sensitive, c.month),
        tuple_(c.dow, c.hour, c.sensitive),
    )
    # grouping() sets a bit for each argument that is NOT grouped (ward, category, month, dow).
    grouping = func.grouping(c.ward_id, c.category_id, c.month, c.dow)
    names = {0b1001: "category_month", 0b0101: "ward_month", 0b1110: "profile"}
    out: dict[str, dict[tuple[Any, ...], int]] = {name: {} for name in names.values()}
    rows = session.execute(
        select(
            grouping, c.ward_id, c.category_id, c.sensitive, c.month, c.dow, c.hour, func.count()
        ).group_by(sets)
    ).all()
    for bits, ward_id, category_id, sensitive, month, dow, hour, count in rows:
        name = names.get(bits)
        if name == "category_month":
            out[name][(category_id, month.date(), sensitive)] = count
        elif name == "ward_month":
            out[name][(ward_id, month.date(), sensitive)] = count
        elif name == "profile":
            out[name][(dow - 1, hour, sensitive)] = count
    return out


def trends(
    session: Session, user: User | None, filters: BoardFilters, *, min_count: int
) -> TrendView:
    """Monthly counts per category and per ward, and when in the week reports happen."""
    audience = audience_for(user)
    see = {"audience": audience, "min_count": min_count}
    counts = _time_counts(session, filters)
    wards = session.execute(select(Ward.id, Ward.name).where(Ward.active).order_by(Ward.name)).all()
    categories = session.execute(
        select(Category.id, Category.name, Category.sensitive).order_by(Category.position)
    ).all()
    months = _month_starts(filters.date_from, filters.date_to)
    ward_trends = [
        Trend(name, [shown(*_split(counts["ward_month"], (ward_id, m)), **see) for m in months])
        for ward_id, name in wards
    ]
    category_trends = [
        Trend(
            name,
            [
                shown(*((0, n) if sensitive else (n, 0)), **see)
                for n in (sum(_split(counts["category_month"], (cid, m))) for m in months)
            ],
        )
        for cid, name, sensitive in categories
    ]
    profile = [
        [shown(*_split(counts["profile"], (d, h)), **see) for h in range(24)] for d in range(7)
    ]
    cells = [c for t in (*ward_trends, *category_trends) for c in t.counts]
    cells += [c for row in profile for c in row]
    notes = []
    if audience is not Audience.BOARD and any(c.value is None or c.partial for c in cells):
        notes.append(_withheld_note(min_count))
    return TrendView(
        filters=filters,
        audience=audience,
        min_count=min_count,
        months=months,
        ward_trends=ward_trends,
        category_trends=category_trends,
        profile=profile,
        profile_max=max((c.value or 0 for row in profile for c in row), default=0),
        notes=notes,
    )


# ----------------------------------------------------------------------------- maps


def _geojson(geometry_sql: Any) -> Any:
    return func.ST_AsGeoJSON(geometry_sql, 6)


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
        ward_geom = (
            select(Ward.geom)
            .where(Ward.slug == filters.ward, Ward.active)
            .limit(1)
            .scalar_subquery()
        )
        query = query.where(func.ST_Covers(ward_geom, func.ST_Centroid(HotspotCell.cell)))
    return query.order_by(HotspotCell.iy, HotspotCell.ix)


@dataclass(frozen=True)
class CellRecord:
    """One stored cell as exports and maps use it."""

    iy: int
    ix: int
    geometry: dict[str, Any]
    count: int
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
            "count": self.count,
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
) -> list[CellRecord]:
    """The stored cells of a run that this viewer may see (small cells withheld outside the
    board when the run includes sensitive categories)."""
    suppress = audience_for(user) is not Audience.BOARD and run.summary.get(
        "includes_sensitive", True
    )
    cells = []
    for (
        iy,
        ix,
        geometry,
        count,
        z,
        p,
        p_sim,
        q,
        gi_bin,
        label,
        density,
        emerging,
    ) in session.execute(_cells_query(run, filters)):
        if suppress and count < min_count:
            continue
        cells.append(
            CellRecord(
                iy,
                ix,
                json.loads(geometry),
                count,
                z,
                p,
                p_sim,
                q,
                gi_bin,
                label,
                density,
                emerging,
            )
        )
    return cells


def map_layers(
    session: Session,
    user: User | None,
    filters: BoardFilters,
    *,
    min_count: int,
) -> BoardLayers:
    """The map's layers for a viewer, from the stored run and counts (no statistics)."""
    audience = audience_for(user)
    run = latest_run(session, filters)
    cells = run_cells(session, user, run, min_count=min_count, filters=filters) if run else []
    hot = [c.feature() for c in cells if c.label not in ("not-significant", hotspots.OUTSIDE)]
    emerging = [c.feature() for c in cells if c.emerging]
    density = [c.feature() for c in cells if c.density > 0]

    counts = ward_category_counts(session, filters)
    ward_features = []
    for ward_id, name, geometry in session.execute(
        select(Ward.id, Ward.name, _geojson(Ward.geom)).where(Ward.active).order_by(Ward.code)
    ):
        total = ward_total(counts, ward_id, audience=audience, min_count=min_count)
        ward_features.append(
            {
                "type": "Feature",
                "geometry": json.loads(geometry),
                "properties": {"name": name, "count": total.value, "shown": str(total)},
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
    )


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
        ward_geom = (
            select(Ward.geom)
            .where(Ward.slug == filters.ward, Ward.active)
            .limit(1)
            .scalar_subquery()
        )
        query = query.where(func.ST_Covers(ward_geom, centre))
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


# --------------------------------------------------------------------------- exports

REPORT_EXPORT_COLUMNS = (
    "reference",
    "category",
    "category_name",
    "status",
    "ward_code",
    "ward_name",
    "occurred_at",
    "reported_at",
    "after_dark",
    "longitude",
    "latitude",
    "street",
    "source",
)


def export_reports(
    session: Session, user: User | None, filters: BoardFilters, *, batch: int = 5000
) -> Iterator[dict[str, Any]]:
    """The filtered reports row by row (board only): no descriptions or contact details."""
    require_board(user)
    query = (
        select(
            Report.reference,
            Category.slug,
            Category.name,
            Report.status,
            Ward.code,
            Ward.name,
            Report.occurred_at,
            Report.created_at,
            Report.after_dark,
            func.ST_X(Report.location),
            func.ST_Y(Report.location),
            Report.street,
            Report.source,
        )
        .join(Category, Category.id == Report.category_id)
        .outerjoin(Ward, Ward.id == Report.ward_id)
        .where(*_filter_conditions(session, filters))
        .order_by(Report.id)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(query):
        values = dict(zip(REPORT_EXPORT_COLUMNS, row, strict=True))
        values["status"] = str(values["status"])
        values["longitude"] = round(values["longitude"], 6)
        values["latitude"] = round(values["latitude"], 6)
        yield values


def aggregate_rows(
    session: Session, user: User | None, filters: BoardFilters, *, min_count: int
) -> list[dict[str, Any]]:
    """Reports per ward, category and month for any board viewer, with small sensitive
    counts withheld outside the board (empty ``count`` and ``withheld`` set)."""
    audience = audience_for(user)
    local_month = func.to_char(func.date_trunc("month", _local(event_time())), "YYYY-MM")
    rows = session.execute(
        select(
            func.coalesce(Ward.code, ""),
            func.coalesce(Ward.name, NOT_PLACED),
            Category.slug,
            Category.sensitive,
            local_month,
            func.count(),
        )
        .join(Category, Category.id == Report.category_id)
        .outerjoin(Ward, Ward.id == Report.ward_id)
        .where(*_filter_conditions(session, filters))
        .group_by(Ward.code, Ward.name, Category.slug, Category.sensitive, local_month)
        .order_by(local_month, Ward.name, Category.slug)
    ).all()
    out = []
    for ward_code, ward_name, category, sensitive, month, count in rows:
        value = shown(
            0 if sensitive else count,
            count if sensitive else 0,
            audience=audience,
            min_count=min_count,
        )
        out.append(
            {
                "month": month,
                "ward_code": ward_code,
                "ward_name": ward_name,
                "category": category,
                "count": value.value,
                "withheld": value.value is None,
            }
        )
    return out


# ---------------------------------------------------------------------- publishing


def publish_you_said_we_did(
    session: Session, user: User | None, filters: BoardFilters, *, min_count: int
) -> PublishedSummary:
    """Publish the "you said, we did" summary for residents (board only).

    What is stored is what the public may see: small sensitive counts withheld, no
    individual reports, only public resolution notes of non-sensitive categories.
    """
    actor = require_board(user)
    public_filters = replace(filters, ward=None, area=None, time_of_day=TimeOfDay.ANY)
    entries = you_said_we_did(
        session, public_filters, audience=Audience.PUBLIC, min_count=min_count
    )
    content = {
        "category": filters.category,
        "wards": [
            {
                "ward": entry.ward,
                "lines": [
                    {
                        "category": line.category,
                        "reported": str(line.reported),
                        "resolved": str(line.resolved),
                    }
                    for line in entry.lines
                ],
                "actions": entry.actions,
            }
            for entry in entries
        ],
        "min_count": min_count,
    }
    summary = PublishedSummary(
        published_by=actor,
        period_start=public_filters.date_from,
        period_end=public_filters.date_to,
        content=content,
    )
    session.add(summary)
    session.flush()
    return summary


def latest_published(session: Session) -> PublishedSummary | None:
    """The summary residents see now."""
    return session.scalar(select(PublishedSummary).order_by(PublishedSummary.id.desc()).limit(1))
