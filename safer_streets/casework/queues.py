"""Partner queues: filters, sorting, counts, the map, neighbours of a report and its history,
all scoped through ``access``."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from geoalchemy2 import Geography
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased, joinedload, load_only

from safer_streets.casework import counts, sla
from safer_streets.casework.access import (
    audience_among_visible,
    disclosures_among_visible,
    visibility,
)
from safer_streets.disclosure.policy import Disclosure, disclose
from safer_streets.errors import InvalidInput, plain_field_errors
from safer_streets.models import (
    NEXT_DUE,
    OPEN_STATUSES,
    Area,
    Category,
    PlaceExtent,
    Priority,
    Report,
    ReportEvent,
    ReportStatus,
    Role,
    User,
    Ward,
)

PAGE_SIZE = 50
# When more than COUNT_LIMIT reports match, the pages that surely exist: narrower filters
# find the rest.
PAGE_LIMIT = counts.COUNT_LIMIT // PAGE_SIZE
MAP_LIMIT = 500
NEARBY_METRES = 250
RELATED_DAYS = 30


# ---- Filters -----------------------------------------------------------------------------


class Sort(enum.StrEnum):
    """Orders a queue can be read in."""

    NEWEST = "newest"
    OLDEST = "oldest"
    PRIORITY = "priority"
    DUE = "due"
    SUPPORTERS = "supporters"


class Age(enum.StrEnum):
    """How long ago a report was received."""

    DAY = "1d"
    WEEK = "7d"
    MONTH = "30d"
    OLDER = "over-30d"


class Assigned(enum.StrEnum):
    """Whose reports to show."""

    ME = "me"
    UNASSIGNED = "unassigned"


# "any" says so explicitly now that a queue opens on its open reports.
STATUS_GROUPS: dict[str, frozenset[ReportStatus] | None] = {
    "open": OPEN_STATUSES,
    "closed": frozenset(ReportStatus) - OPEN_STATUSES,
    "any": None,
}
MAX_SEARCH_CHARS = 200
SUMMARY_CHARS = 80
# A reference typed any way: "lew 7k3q9", "LEW7K3Q9", "lew-7k3q9 ".
TYPED_REFERENCE = re.compile(r"^LEW([2-9A-Z]{5})$")
# The text-search configuration Report.search_vector is built with.
ENGLISH = literal_column("'english'::regconfig")
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"
_FILTER_MESSAGES = {
    "enum": "is not one of the choices",
    "string_pattern_mismatch": "is not a valid name",
    "string_too_long": "is too long",
    "int_parsing": "must be a whole number",
    "greater_than_equal": "must be 1 or more",
    "less_than_equal": "is too large",
    "bool_parsing": "must be yes or no",
    "value_error": None,
}


class QueueFilters(BaseModel):
    """A queue's filters, sort and page, as given in the query string."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    status: str | None = Field(default="open", max_length=32)
    q: str | None = Field(default=None, max_length=MAX_SEARCH_CHARS)
    category: str | None = Field(default=None, pattern=SLUG_PATTERN)
    ward: str | None = Field(default=None, pattern=SLUG_PATTERN)
    area: str | None = Field(default=None, pattern=SLUG_PATTERN)
    priority: Priority | None = None
    age: Age | None = None
    breached: bool = False
    assigned: Assigned | None = None
    sort: Sort = Sort.NEWEST
    page: int = Field(default=1, ge=1, le=100_000)

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str | None) -> str | None:
        if value is not None and value not in STATUS_GROUPS and value not in set(ReportStatus):
            raise ValueError("is not one of the choices")
        return value

    def statuses(self) -> frozenset[ReportStatus] | None:
        """The statuses the status filter selects (``None``: any)."""
        if self.status is None or self.status in STATUS_GROUPS:
            return STATUS_GROUPS.get(self.status or "any")
        return frozenset({ReportStatus(self.status)})

    def query_args(self, **changes: Any) -> dict[str, str]:
        """The filters as query-string arguments, e.g. for links to other pages."""
        values = self.model_dump(mode="json") | changes
        defaults = QueueFilters().model_dump(mode="json")
        return {
            key: ("yes" if value is True else str(value))
            for key, value in values.items()
            if value not in (None, False, "") and (value != defaults[key] or key in changes)
        }


def parse_filters(args: Mapping[str, str]) -> QueueFilters:
    """Validate query-string filters; a bad value raises ``InvalidInput`` naming the field."""
    data = {key: value for key, value in args.items() if str(value).strip() != ""}
    if data.get("breached") in ("on", "1"):
        data["breached"] = "yes"
    try:
        return QueueFilters.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(plain_field_errors(error, _FILTER_MESSAGES, whole="filters")) from None


@dataclass(frozen=True)
class ResolvedFilters:
    """Filters whose slugs were looked up: ids for the query, names for the page."""

    category_id: int | None = None
    ward_id: int | None = None
    # The area's outline itself (EWKB), not a subquery for it: given the shape, PostgreSQL
    # estimates how many reports it covers and starts from the spatial index.
    area_shape: bytes | None = None


def resolve_filters(session: Session, filters: QueueFilters) -> ResolvedFilters:
    errors: dict[str, str] = {}
    ids: dict[str, int | None] = {}
    for name, model, extra in (
        ("category", Category, None),
        ("ward", Ward, Ward.active),
        ("area", Area, None),
    ):
        slug = getattr(filters, name)
        if slug is None:
            ids[name] = None
            continue
        query = select(model.id).where(model.slug == slug)
        if extra is not None:
            query = query.where(extra)
        ids[name] = session.scalar(query.limit(1))
        if ids[name] is None:
            errors[name] = f"no {name} called {slug!r}"
    if errors:
        raise InvalidInput(errors)
    shape = None
    if ids["area"] is not None:
        shape = session.scalar(select(func.ST_AsEWKB(Area.geom)).where(Area.id == ids["area"]))
    return ResolvedFilters(ids["category"], ids["ward"], shape)


def queue_conditions(
    user: User, filters: QueueFilters, resolved: ResolvedFilters, now: datetime
) -> list[ColumnElement[bool]]:
    """Every filter except status, as SQL conditions on ``Report``."""
    conditions = [visibility(user)]
    if resolved.category_id is not None:
        conditions.append(Report.category_id == resolved.category_id)
    if resolved.ward_id is not None:
        conditions.append(Report.ward_id == resolved.ward_id)
    if resolved.area_shape is not None:
        area = func.ST_GeomFromEWKB(literal(resolved.area_shape, LargeBinary))
        conditions.append(func.ST_CoveredBy(Report.location, area))
    if filters.priority is not None:
        conditions.append(Report.priority == filters.priority)
    if filters.age is not None:
        bounds = {Age.DAY: 1, Age.WEEK: 7, Age.MONTH: 30, Age.OLDER: 30}
        cutoff = now - timedelta(days=bounds[filters.age])
        conditions.append(
            Report.created_at < cutoff if filters.age is Age.OLDER else Report.created_at >= cutoff
        )
    if filters.breached:
        conditions.append(sla.breached(now))
    if filters.q:
        conditions.append(search_condition(filters.q))
    if filters.assigned is Assigned.ME:
        conditions.append(Report.assigned_to_id == user.id)
    elif filters.assigned is Assigned.UNASSIGNED:
        conditions.append(Report.assigned_to_id.is_(None))
    return conditions


def search_condition(typed: str) -> ColumnElement[bool]:
    """Reports matching what was typed in the queue's search box: a reference written any
    way, a street, place or postcode, or words of the description (English stemming, so
    "lights" finds "light"; "quoted phrases" and -exclusions work as on web search engines)."""
    compact = re.sub(r"[\s-]+", "", typed).upper()
    if match := TYPED_REFERENCE.match(compact):
        return Report.reference == f"LEW-{match.group(1)}"
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", typed.strip()) + "%"
    return or_(
        Report.street.ilike(pattern),
        Report.location_text.ilike(pattern),
        Report.postcode.ilike(pattern),
        Report.search_vector.bool_op("@@")(func.websearch_to_tsquery(ENGLISH, typed)),
    )


_PRIORITY_RANK = case(
    {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3},
    value=Report.priority,
    else_=4,
)


def _sort_keys(sort: Sort) -> list[tuple[ColumnElement[Any], bool]]:
    """(expression, descending) pairs; PostgreSQL's default null order suits every one."""
    if sort is Sort.OLDEST:
        return [(Report.created_at, False), (Report.id, False)]
    if sort is Sort.PRIORITY:
        return [(_PRIORITY_RANK, False), (Report.created_at, True), (Report.id, True)]
    if sort is Sort.DUE:
        return [(NEXT_DUE, False), (Report.id, False)]
    if sort is Sort.SUPPORTERS:
        return [(Report.supporter_count, True), (Report.created_at, True), (Report.id, True)]
    return [(Report.created_at, True), (Report.id, True)]


def queue_order(sort: Sort) -> list[Any]:
    return [key.desc() if descending else key.asc() for key, descending in _sort_keys(sort)]


def _ordered_ids(
    session: Session,
    user: User,
    conditions: list[ColumnElement[bool]],
    sort: Sort,
    *,
    limit: int,
    offset: int = 0,
    few: bool | None = None,
) -> list[int]:
    """Ids of one stretch of the queue in order (``conditions`` without visibility); a
    partner's own reports come before those it is only notified of, which it cannot act on.
    ``few``: whether at most ``COUNT_LIMIT`` reports match, when the caller has counted them
    (see ``_in_order``).

    For a partner the owned reports are read first, through ``ix_report_owner_created``;
    the notified ones only when the owned run out before the stretch ends. Ordering what a
    partner is notified of means reading all of it (thousands of reports for a council team),
    and a partner that owns many reports seldom pages past them. PostgreSQL cannot tell how
    selective ``owner OR notified`` is: guessing half the table, it would walk the whole
    ``created_at`` index for a partner that owns one report in fifty.
    """
    if not (user.active and user.role not in (Role.BOARD, Role.ADMIN) and user.partner_id):
        query = select(Report.id).where(visibility(user), *conditions)
        return _in_order(session, query, sort, limit=limit, offset=offset, few=few)
    partner = user.partner_id
    owned_query = select(Report.id).where(Report.owner_partner_id == partner, *conditions)
    owned = _in_order(session, owned_query, sort, limit=offset + limit, few=few)
    if len(owned) == offset + limit:
        return owned[offset:]
    notified_query = select(Report.id).where(_notified_not_owned(partner), *conditions)
    notified = _in_order(
        session,
        notified_query,
        sort,
        limit=offset + limit - max(offset, len(owned)),
        offset=max(0, offset - len(owned)),
        few=few,
    )
    return owned[offset:] + notified


def _in_order(
    session: Session,
    ids: Select[tuple[int]],
    sort: Sort,
    *,
    limit: int,
    offset: int = 0,
    few: bool | None,
) -> list[int]:
    """One stretch of ``ids`` (a query of report ids) in the queue's order.

    Where many reports match, walking an index in the queue's order finds a page at once.
    Where few do, that walk reads the whole index looking for matches that are not there
    (seconds for a search matching nothing, at a million reports): then the matches are
    fetched first, unordered through whichever indexes suit the filters, and sorted. When
    the caller has not counted them (``few`` None), up to ``COUNT_LIMIT`` + 1 are fetched
    that way and the walk is taken only when there are more.
    """
    keys = _sort_keys(sort)
    if few is not False:
        matching = ids.add_columns(*(key.label(f"key_{i}") for i, (key, _) in enumerate(keys)))
        if few is None:
            matching = matching.limit(counts.COUNT_LIMIT + 1)
        fetched = matching.cte("matching").prefix_with("MATERIALIZED")
        order = [
            fetched.c[f"key_{i}"].desc() if descending else fetched.c[f"key_{i}"].asc()
            for i, (_, descending) in enumerate(keys)
        ]
        rows = session.execute(
            select(fetched.c.id, func.count().over()).order_by(*order).offset(offset).limit(limit)
        ).all()
        # Fewer than all the matches were fetched only when the limit was reached.
        if few or not rows or rows[0][1] <= counts.COUNT_LIMIT:
            return [report_id for report_id, _ in rows]
    ordered = ids.order_by(*queue_order(sort)).offset(offset).limit(limit)
    return list(session.scalars(ordered))


# ---- The queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MapPoint:
    """One filtered report on the queue's map, where the viewer may see its place.
    ``somewhere``: placed from a typed street or place, so it is somewhere along or in
    ``place``, not at the marker."""

    reference: str
    lat: float
    lon: float
    status: str
    category: str
    place: str
    somewhere: bool

    @classmethod
    def of(cls, shown: Disclosure) -> MapPoint | None:
        place = shown.place
        if place is None or place.lat is None or place.lon is None:
            return None
        report = shown.report
        return cls(
            report.reference,
            place.lat,
            place.lon,
            str(report.status),
            report.category.name,
            place.label,
            place.outline is not None,
        )


@dataclass(frozen=True)
class QueuePage:
    """One page of a queue, with counts per status across the whole filtered queue; each
    report as the viewer may see it."""

    rows: list[Disclosure]
    page: int
    # None when more than COUNT_LIMIT reports match: paged with Previous and Next only.
    pages: int | None
    total: int
    # The tabs' figures: by status, and which of them are known (``Counts.figure``).
    tabs: counts.Counts
    # More than COUNT_LIMIT reports match: ``total`` counts only the first COUNT_LIMIT + 1.
    total_capped: bool = False
    filters: QueueFilters = field(default_factory=QueueFilters)
    breaches: dict[int, list[str]] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    viewer_partner_id: int | None = None

    @property
    def has_next(self) -> bool:
        """Whether a Next page follows this one."""
        return self.page < (self.pages if self.pages is not None else PAGE_LIMIT)

    def figure(self, statuses: Iterable[ReportStatus] | None = None) -> int | None:
        """The figure for a tab: reports in any of ``statuses`` (None: every status) under
        the other filters, or None where it was not counted."""
        return self.tabs.figure(s.value for s in (statuses or ReportStatus))

    @property
    def open_count(self) -> int | None:
        """The Open tab's figure."""
        return self.figure(OPEN_STATUSES)

    def shows_due(self, shown: Disclosure) -> bool:
        """Whether the row shows service-level due times (see ``shows_due``)."""
        return shows_due(shown.report, self.viewer_partner_id)

    def age(self, shown: Disclosure) -> str | None:
        """How long ago the report came in, in words, as precisely as the viewer may know."""
        return age_in_words(shown.created.value, self.now) if shown.created else None


def shows_due(report: Report, viewer_partner_id: int | None) -> bool:
    """Service-level times are the owner's to meet: shown on its open reports (and to the
    board and administrators, ``viewer_partner_id`` None), never to a notified partner, which
    cannot acknowledge the report, nor on a closed one."""
    mine = viewer_partner_id is None or report.owner_partner_id == viewer_partner_id
    return mine and report.status in OPEN_STATUSES


def summary(shown: Disclosure) -> str | None:
    """The start of the description as the viewer may read it, cut at a word."""
    words = " ".join((shown.description or "").split())
    if len(words) <= SUMMARY_CHARS:
        return words or None
    return words[:SUMMARY_CHARS].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def age_in_words(then: datetime, now: datetime) -> str:
    """'just now', '5 minutes ago', '3 hours ago', 'yesterday', '12 days ago', '4 months ago'."""
    seconds = max(0, (now - then).total_seconds())
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 1:
        return "just now"
    for amount, unit in ((minutes, "minute"), (hours, "hour")):
        if amount < (60 if unit == "minute" else 24):
            return f"{amount:.0f} {unit}{'s' if amount != 1 else ''} ago"
    if days < 2:
        return "yesterday"
    if days < 60:
        return f"{days:.0f} days ago"
    return f"{days // 30:.0f} months ago"


def queue(
    session: Session,
    user: User,
    filters: QueueFilters | None = None,
    *,
    status: ReportStatus | None = None,
    page: int = 1,
    now: datetime | None = None,
) -> QueuePage:
    """The user's queue: filtered, sorted, one page of it and counts per status. Its map's
    markers are a request of their own (``map_points``), made by the map's script."""
    if filters is None:
        filters = QueueFilters(status=status.value if status else None, page=page)
    now = now or datetime.now(UTC)
    resolved, filtering = _filtering(session, user, filters, now)
    statuses = filters.statuses()
    tabs, matching = _queue_counts(session, user, filters, resolved, filtering, statuses)
    if statuses is not None:
        filtering.append(Report.status.in_(statuses))
    if matching.capped:
        pages = None
        page_number = min(filters.page, PAGE_LIMIT)
    else:
        pages = max(1, -(-matching.total // PAGE_SIZE))
        page_number = min(filters.page, pages)
    offset = (page_number - 1) * PAGE_SIZE
    few = not matching.capped and matching.total <= counts.COUNT_LIMIT
    page_ids = (
        _ordered_ids(
            session, user, filtering, filters.sort, limit=PAGE_SIZE, offset=offset, few=few
        )
        if matching.total
        else []
    )
    rows = disclosures_among_visible(user, _load_rows(session, page_ids))
    viewer_partner_id = user.partner_id if user.role not in (Role.BOARD, Role.ADMIN) else None
    return QueuePage(
        rows=rows,
        page=page_number,
        pages=pages,
        total=matching.total,
        tabs=tabs,
        total_capped=matching.capped,
        filters=filters.model_copy(update={"page": page_number}),
        breaches={
            shown.report.id: sla.breaches_of(shown.report, now)
            for shown in rows
            if shows_due(shown.report, viewer_partner_id)
        },
        now=now,
        viewer_partner_id=viewer_partner_id,
    )


def map_points(
    session: Session,
    user: User,
    filters: QueueFilters,
    *,
    many: bool = False,
    now: datetime | None = None,
) -> list[MapPoint]:
    """The first ``MAP_LIMIT`` reports of the filtered queue, in its order, as markers where
    the viewer may see their place. ``many``: the page counted more than ``COUNT_LIMIT``
    matches, so the queue's order is walked at once, as the page did, without first fetching
    ``COUNT_LIMIT`` + 1 of them to find that out (the same markers either way)."""
    _, filtering = _filtering(session, user, filters, now or datetime.now(UTC))
    statuses = filters.statuses()
    if statuses is not None:
        filtering.append(Report.status.in_(statuses))
    few = False if many else None
    ids = _ordered_ids(session, user, filtering, filters.sort, limit=MAP_LIMIT, few=few)
    return [
        point
        for shown in disclosures_among_visible(user, _load_map_reports(session, ids))
        if (point := MapPoint.of(shown)) is not None
    ]


def _filtering(
    session: Session, user: User, filters: QueueFilters, now: datetime
) -> tuple[ResolvedFilters, list[ColumnElement[bool]]]:
    """The filters resolved against the database, and as conditions without visibility
    (which the helpers apply their own way)."""
    # These queries touch a few thousand index entries each: starting parallel workers costs
    # more than it saves (measured at 100,000 reports), so this transaction runs them alone.
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    resolved = resolve_filters(session, filters)
    return resolved, queue_conditions(user, filters, resolved, now)[1:]


def _load_rows(session: Session, ids: list[int]) -> list[Report]:
    """The page's reports, in order, with everything a row shows."""
    loaded = {
        report.id: report
        for report in session.scalars(
            select(Report)
            .options(
                joinedload(Report.category),
                joinedload(Report.ward),
                joinedload(Report.owner),
                joinedload(Report.assigned_to),
                _EXTENT,
            )
            .where(Report.id.in_(ids))
        )
    }
    return [loaded[report_id] for report_id in ids]


# What the policy reads to place a report on the map, and the marker's own fields.
_MAP_COLUMNS = (
    Report.reference,
    Report.status,
    Report.category_id,
    Report.ward_id,
    Report.owner_partner_id,
    Report.location,
    Report.street,
    Report.place_extent_id,
)
# A typed street's or place's outline, which the policy shows instead of its point.
_EXTENT = joinedload(Report.place_extent).undefer(PlaceExtent.geom)


def _load_map_reports(session: Session, ids: list[int]) -> list[Report]:
    """The map's reports, in order, with only the columns a marker needs: up to 500 whole
    reports (words, contact, reasons) cost more to load than the rest of the page."""
    loaded = {
        report.id: report
        for report in session.scalars(
            select(Report)
            .options(
                load_only(*_MAP_COLUMNS),
                joinedload(Report.category),
                joinedload(Report.ward),
                _EXTENT,
            )
            .where(Report.id.in_(ids))
        )
    }
    return [loaded[report_id] for report_id in ids]


def _queue_counts(
    session: Session,
    user: User,
    filters: QueueFilters,
    resolved: ResolvedFilters,
    filtering: list[ColumnElement[bool]],
    statuses: frozenset[ReportStatus] | None,
) -> tuple[counts.Counts, counts.Counts]:
    """Counts per status for the tabs (every filter but status), and of the reports the
    status filter selects.

    Filters the stored counts have columns for (status, category, ward) are answered from
    them, exactly, for every tab. Any other (a search, an area, an age...) is counted up to
    COUNT_LIMIT, and only for the selected statuses: those tabs have figures and the others
    none, rather than counting the filter's reports twice (at a million reports an area or
    a missed-service-level filter costs tens of milliseconds a count).
    """
    if not (
        filters.q
        or filters.area
        or filters.priority
        or filters.age
        or filters.breached
        or filters.assigned
    ):
        tabs = counts.stored(
            session, user, category_id=resolved.category_id, ward_id=resolved.ward_id
        )
        if statuses is None:
            return tabs, tabs
        return tabs, counts.Counts({s: n for s, n in tabs.by_status.items() if s in statuses})
    if statuses is None:
        tabs = counts.bounded(session, _visible_statuses(user, filtering))
        return tabs, tabs
    selected = [*filtering, Report.status.in_(statuses)]
    matching = counts.bounded(session, _visible_statuses(user, selected))
    return replace(matching, of=frozenset(status.value for status in statuses)), matching


def _notified_not_owned(partner_id: int) -> ColumnElement[bool]:
    """The reports a partner is notified of but does not own: through the report's own
    array of notified partners (``ix_report_notified_partner_ids``), so that PostgreSQL
    intersects it with the filters' indexes instead of joining a quarter of the table."""
    return and_(
        Report.notified_partner_ids.contains([partner_id]),
        # Implied by the line above; written out so that the index of open reports notified
        # to someone (``ix_report_notified_partner_ids_open``) can serve this query.
        Report.notified_partner_ids != text("'{}'"),
        Report.owner_partner_id.is_distinct_from(partner_id),
    )


def _visible_statuses(user: User, filters: list[ColumnElement[bool]]) -> Select[tuple[Any]]:
    """The status of each report the user may see under the filters (given without the
    visibility condition).

    For a partner the owned and the notified reports are read apart, each through its own
    index, rather than testing every report against ``owner OR notified``.
    """
    if user.active and user.role not in (Role.BOARD, Role.ADMIN) and user.partner_id:
        owned = select(Report.status).where(Report.owner_partner_id == user.partner_id, *filters)
        notified = select(Report.status).where(_notified_not_owned(user.partner_id), *filters)
        return owned.union_all(notified)
    return select(Report.status).where(visibility(user), *filters)


def filter_choices(session: Session, user: User) -> dict[str, list[tuple[str, str]]]:
    """Slugs and names for the queue's filter menus; a ward's Safer Neighbourhood Team is
    offered its own ward only."""
    wards = select(Ward.slug, Ward.name).where(Ward.active).order_by(Ward.name)
    ward_code = user.partner.ward_code if user.partner else None
    if ward_code:
        wards = wards.where(Ward.code == ward_code)
    return {
        "category": [
            (slug, name)
            for slug, name in session.execute(
                select(Category.slug, Category.name).order_by(Category.position)
            )
        ],
        "ward": [(slug, name) for slug, name in session.execute(wards)],
        "area": [
            (slug, name)
            for slug, name in session.execute(select(Area.slug, Area.name).order_by(Area.name))
        ],
    }


# ---- Around one report -------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbour:
    """A report near another, as the viewer may see it, with how far away it is."""

    shown: Disclosure
    metres: float
    related: bool

    def map_point(self) -> dict[str, Any] | None:
        """The neighbour as a marker on the report's map, where its place may be shown."""
        place = self.shown.place
        if place is None or place.lat is None or place.lon is None:
            return None
        return {
            "reference": self.shown.report.reference,
            "lat": place.lat,
            "lon": place.lon,
            "status": str(self.shown.report.status),
        }


def nearby(session: Session, user: User, report: Report) -> list[Neighbour]:
    """Reports the user may read within 250 m; same category in the last 30 days is related."""
    if report.location is None:
        return []
    origin = aliased(Report)
    # Cast as the expression index ix_report_location_geography is written, so it is used.
    here = cast(
        select(origin.location).where(origin.id == report.id).scalar_subquery(), Geography()
    )
    there = cast(Report.location, Geography())
    window = timedelta(days=RELATED_DAYS)
    related = and_(
        Report.category_id == report.category_id,
        Report.created_at.between(report.created_at - window, report.created_at + window),
    )
    rows = session.execute(
        select(Report, func.ST_Distance(there, here), related)
        .options(joinedload(Report.category), joinedload(Report.ward))
        .where(
            visibility(user),
            Report.id != report.id,
            func.ST_DWithin(there, here, NEARBY_METRES),
        )
        .order_by(related.desc(), func.ST_Distance(there, here), Report.id)
        .limit(20)
    )
    return [
        Neighbour(disclose(near, audience_among_visible(user, near)), float(metres), bool(related_))
        for near, metres, related_ in rows
    ]


def history(session: Session, shown: Disclosure) -> list[ReportEvent]:
    """The report's events with their actors: internal entries only where the viewer may read
    internal notes (staff of the owner or a notified partner, administrators), public ones
    for everyone who may see the report."""
    query = (
        select(ReportEvent)
        .options(joinedload(ReportEvent.actor).joinedload(User.partner))
        .where(ReportEvent.report_id == shown.report.id)
        .order_by(ReportEvent.at, ReportEvent.id)
    )
    if not shown.internal_notes:
        query = query.where(ReportEvent.public)
    return list(session.scalars(query))
