"""What the board pages show: overview tiles, ward and category counts, trends, partner
performance and "you said, we did", read from stored runs or counted in SQL."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    cast,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from geo.maps import WARD_COLOURS, class_breaks, range_legend
from safer_streets.board.audience import Audience, audience_for
from safer_streets.board.filters import (
    ALL_SOURCES,
    HIDDEN_SOURCES,
    NOT_PLACED,
    BoardFilters,
    month_starts,
)
from safer_streets.board.query import event_time, filter_conditions, local_time, start_of
from safer_streets.board.runs import crime_months, crimes_per_ward, latest_run, pending_run
from safer_streets.board.suppression import Shown, shown
from safer_streets.models import (
    Category,
    HotspotRun,
    Partner,
    Report,
    ReportEvent,
    ReportStatus,
    User,
    Ward,
)
from safer_streets.residents import questionnaire

# ------------------------------------------------------------------------ dashboard

# The day-by-hour shading: counts, so the board's sequential purples (css: .level-1 to 5).
PROFILE_SHADES = WARD_COLOURS


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
    # Reporters' answers to "is it fixed?" on this partner's reports (residents.questionnaire).
    answered: int = 0
    said_fixed: int = 0

    @property
    def said_fixed_share(self) -> str:
        """Share of the reporters who answered that said it was fixed, with how many answered."""
        if not self.answered:
            return "—"
        return f"{self.said_fixed / self.answered:.0%} of {self.answered}"

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
    def data_ends(self) -> datetime | None:
        """When the run's data ends: reports received after it are not in the run."""
        ends = self.summary.get("data_ends")
        return datetime.fromisoformat(ends) if ends else None

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
    # Demo and test reports the filters leave out (`query.left_out_sources`).
    left_out: int = 0


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
    # Category trends over the previous period, month for month (same order as
    # ``category_trends``): the charts set each month beside the same month a period earlier.
    previous_category_trends: list[Trend] = field(default_factory=list)

    @property
    def profile_hours(self) -> range:
        """Hours of the day (columns of the profile)."""
        return range(24)

    @property
    def profile_breaks(self) -> list[float]:
        """Upper bounds of the profile's shading classes: quantiles of the non-zero cells,
        so that one busy hour cannot wash every other hour out to the palest shade."""
        return class_breaks(c.value for row in self.profile for c in row if c.value)

    def profile_level(self, cell: Shown) -> int:
        """Shade 0-5 of a profile cell (for CSS classes; no inline styles under the CSP)."""
        breaks = self.profile_breaks
        if not cell.value or not breaks:
            return 0
        index = min(bisect_left(breaks, cell.value), len(breaks) - 1)
        # Classes are spread over the five shades as the map spreads them over its palette.
        return 1 + (round(index * 4 / (len(breaks) - 1)) if len(breaks) > 1 else 4)

    @property
    def profile_key(self) -> list[tuple[int, str]]:
        """Each shade of the profile (its level) and the reports it stands for."""
        legend = range_legend(
            "profile", "Reports", self.profile_breaks, PROFILE_SHADES, whole=True, empty="None"
        )
        return [
            (0 if e.colour == "#ffffff" else 1 + PROFILE_SHADES.index(e.colour), e.label)
            for e in legend.entries
        ]


def _to_run_view(run: HotspotRun | None) -> RunView | None:
    if run is None or run.computed_at is None:
        return None
    return RunView(run.id, run.computed_at, run.summary, run.parameters)


POPULATION_NOTE = (
    "The ward figures are counts, and larger wards will have more reports; the map's "
    '"Reports per 1,000 residents" layer shows rates.'
)


def _withheld_note(min_count: int) -> str:
    return (
        f"Counts of harassment and weapons reports below {min_count} are withheld (shown as c), "
        "and totals marked * leave them out."
    )


def _period_counts(
    session: Session, filters: BoardFilters
) -> tuple[dict[bool, dict[tuple[int | None, int, bool], int]], int]:
    """Reports per (ward, category, sensitive) in this period (True) and the one before, and
    the demo and test reports of this period left out (`query.left_out_sources`).

    One pass over the reports: at a million of them each pass is most of the page's time.
    """
    previous_from, _ = filters.previous()
    current = (event_time() >= start_of(filters.date_from)).label("current")
    keys: list[Any] = [current, Report.ward_id, Report.category_id, Category.sensitive]
    overrides: dict[str, Any] = {"date_from": previous_from}
    if filters.source is None:
        # Every source, told apart, instead of a second count of the hidden ones.
        keys.append(Report.source.in_(HIDDEN_SOURCES).label("hidden"))
        overrides["source"] = ALL_SOURCES
    rows = session.execute(
        select(*keys, func.count())
        .join(Category, Category.id == Report.category_id)
        .where(*filter_conditions(session, filters, **overrides))
        .group_by(*keys)
    ).all()
    out: dict[bool, dict[tuple[int | None, int, bool], int]] = {True: {}, False: {}}
    left_out = 0
    for is_current, ward_id, category_id, sensitive, *hidden, n in rows:
        if hidden and hidden[0] is not False:
            # NULL (no source) is neither shown nor left out, as in the two queries.
            left_out += n if is_current and hidden[0] else 0
            continue
        out[bool(is_current)][(ward_id, category_id, sensitive)] = n
    return out, left_out


def ward_category_counts(
    session: Session, filters: BoardFilters
) -> dict[tuple[int | None, int, bool], int]:
    """Reports per (ward, category, sensitive) for the filters: the map's ward layer."""
    rows = session.execute(
        select(Report.ward_id, Report.category_id, Category.sensitive, func.count())
        .join(Category, Category.id == Report.category_id)
        .where(*filter_conditions(session, filters))
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
            Partner.id,
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
        .where(*filter_conditions(session, filters))
        .group_by(Partner.id)
        .order_by(Partner.name)
    ).all()
    answers = reporters_answers(session, filters)
    return [
        PartnerRow(
            name=name,
            answered=answers.get(partner_id, (0, 0))[0],
            said_fixed=answers.get(partner_id, (0, 0))[1],
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
            partner_id,
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


def reporters_answers(session: Session, filters: BoardFilters) -> dict[int, tuple[int, int]]:
    """Per owner partner, of the filtered reports: (reporters who answered "is it fixed?",
    those who said it was fixed)."""
    fixed = ReportEvent.data["fixed"].as_boolean()
    rows = session.execute(
        select(Report.owner_partner_id, func.count(), func.count().filter(fixed))
        .join(ReportEvent, ReportEvent.report_id == Report.id)
        .join(Category, Category.id == Report.category_id)
        .where(ReportEvent.kind == questionnaire.ANSWERED, *filter_conditions(session, filters))
        .group_by(Report.owner_partner_id)
    ).all()
    return {partner_id: (answered, yes) for partner_id, answered, yes in rows}


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
        .where(*filter_conditions(session, filters))
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
            *filter_conditions(session, filters),
        )
        .subquery()
    )
    actions: dict[str, list[str]] = defaultdict(list)
    for ward_name, note in session.execute(
        select(ranked.c.ward, ranked.c.note).where(ranked.c.rank <= actions_per_ward)
    ):
        actions[ward_name].append(note)
    return [SaidDidWard(name, lines[name], actions.get(name, [])) for name in sorted(lines)]


def count_from(counts: Mapping[tuple[int | None, int, bool], int]) -> int:
    """How many reports `ward_category_counts` counted (what `count_points` would say)."""
    return sum(counts.values())


def count_points(session: Session, filters: BoardFilters) -> int:
    """How many reports the filters select (to decide whether points may be drawn)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Report)
            .join(Category, Category.id == Report.category_id)
            .where(*filter_conditions(session, filters))
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
    counts, left_out = _period_counts(session, filters)
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
        # The tile follows the ward filter; recorded crime is placed by ward, not town centre.
        crimes=sum(r.crimes for r in ward_rows if not filters.ward or r.slug == filters.ward),
        crime_months=crime_window,
        point_count=point_count,
        points_allowed=audience is Audience.BOARD and point_count < point_limit,
        notes=notes,
        left_out=left_out,
    )


def _time_counts(session: Session, filters: BoardFilters) -> dict[str, dict[tuple[Any, ...], int]]:
    """Counts per (category, month), (ward, month) and (day of week, hour), London time.

    One scan with GROUPING SETS: at a million reports that is one pass instead of three.
    """
    local = local_time(event_time())
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
        .where(*filter_conditions(session, filters))
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
    months = month_starts(filters.date_from, filters.date_to)
    ward_trends = [
        Trend(name, [shown(*_split(counts["ward_month"], (ward_id, m)), **see) for m in months])
        for ward_id, name in wards
    ]
    before_from, before_to = filters.previous()
    before = _time_counts(session, replace(filters, date_from=before_from, date_to=before_to))
    before_months = month_starts(before_from, before_to)

    def category_trend(source: dict[tuple[Any, ...], int], in_months: list[date]) -> list[Trend]:
        return [
            Trend(
                name,
                [
                    shown(*((0, n) if sensitive else (n, 0)), **see)
                    for n in (sum(_split(source, (cid, m))) for m in in_months)
                ],
            )
            for cid, name, sensitive in categories
        ]

    category_trends = category_trend(counts["category_month"], months)
    previous_category_trends = category_trend(before["category_month"], before_months)
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
        previous_category_trends=previous_category_trends,
    )
