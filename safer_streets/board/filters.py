"""The board's filters: period, dates, categories, wards, named areas, time of day; parsed and
checked at the edge, with the choices offered."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safer_streets.errors import InvalidInput
from safer_streets.models import (
    Area,
    Category,
    ReportStatus,
    Ward,
)

logger = logging.getLogger(__name__)

# Reports that are not separate problems (duplicates) or not Lewisham's are never counted.
EXCLUDED_STATUSES = (ReportStatus.DUPLICATE, ReportStatus.OUT_OF_AREA)
DEFAULT_CELL_SIZE_M = 100.0
DEFAULT_WINDOWS = 6
PENDING_RUN_MAX_AGE = timedelta(hours=1)
RUN_RETENTION = timedelta(days=90)
EARLIEST_DATE = date(2000, 1, 1)
MAX_RANGE_DAYS = 366 * 10
NOT_PLACED = "Not yet placed"

# Where reports came from (``Report.source``). Demo and test reports are not residents' and
# are left out unless asked for; an import may name its own channel, such as "phone".
SOURCE_LABELS = {
    "web": "Resident form",
    "api": "API clients",
    "open311": "Open311 clients",
    "import": "Imported files",
    "demo": "Demo data",
    "test": "Test data",
}
DEMO_SOURCE = "demo"
HIDDEN_SOURCES = (DEMO_SOURCE, "test")
ALL_SOURCES = "all"
SOURCE_RE = re.compile(r"[a-z][a-z0-9-]{0,19}")


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
    # None: every source but demo and test; ``ALL_SOURCES``: all of them; else that one.
    source: str | None = None

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
        if self.source:
            args["source"] = self.source
        return args

    def run_filters(self) -> dict[str, Any]:
        """The part of the filters a hotspot run is computed for (ward and area only zoom)."""
        spec: dict[str, Any] = {
            "categories": [self.category] if self.category else None,
            "period": self.period.value,
            "time_of_day": self.time_of_day.value,
            "source": self.source,
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
    source = (args.get("source") or "").strip() or None
    if source is not None and source != ALL_SOURCES and not SOURCE_RE.fullmatch(source):
        errors["source"] = f"unknown source {source[:40]!r}"
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
        source=source,
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
    sources: list[Option]

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
    # The known channels, not a scan of a million reports; another import channel can still
    # be chosen by its name in the URL.
    sources = [Option(value, label) for value, label in SOURCE_LABELS.items()]
    sources.append(Option(ALL_SOURCES, "All, with demo and test data"))
    return FilterOptions(categories, wards, areas, sources)


def month_starts(date_from: date, date_to: date) -> list[date]:
    """The first day of each month from ``date_from`` to ``date_to``."""
    months, cursor = [], date_from.replace(day=1)
    while cursor <= date_to:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months
