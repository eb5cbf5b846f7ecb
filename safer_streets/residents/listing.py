"""Public reports around a place: the filters residents choose, the query, and what each row shows.

The query keeps to what the public may see in SQL first (categories the policy lists, reports
routed and not held), and every row then passes through ``disclose(report, Audience.PUBLIC)``:
the row shows the place, time and words the policy answers, never the report's own columns.
The map, the list, the Atom feed and alert emails all read rows made here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from safer_streets.disclosure.policy import Audience, Location, Place, disclose
from safer_streets.models import Area, Category, PlaceExtent, Report, ReportStatus, Ward

PAGE_SIZE = 20
DEFAULT_DAYS = 30
DAY_CHOICES = (7, 30, 90, 365)

OPEN = frozenset({ReportStatus.ROUTED, ReportStatus.ACKNOWLEDGED, ReportStatus.IN_PROGRESS})
CLOSED = frozenset(
    {
        ReportStatus.RESOLVED,
        ReportStatus.NOT_ACTIONABLE,
        ReportStatus.DUPLICATE,
        ReportStatus.REFERRED,
    }
)
# Held reports are the partnership's business only; received, unplaced and failing ones have
# no ward or partner yet, and out-of-area ones are not Lewisham's to show.
PUBLIC_STATUSES = OPEN | CLOSED


def _l(message: str) -> str:
    """Marks a message for translators (``pybabel extract -k _l``); pages translate it when
    they show it."""
    return message


# The status as a resident would say it, not as staff record it. "%(partner)s" is the partner
# that has the report, which the public tracking page names too; before routing there is none.
STATUS_WORDS = {
    ReportStatus.RECEIVED: _l("Received"),
    ReportStatus.NEEDS_LOCATION: _l("We need to know where this is"),
    ReportStatus.ROUTED: _l("Sent to %(partner)s"),
    ReportStatus.ACKNOWLEDGED: _l("Seen by %(partner)s"),
    ReportStatus.IN_PROGRESS: _l("Being dealt with"),
    ReportStatus.RESOLVED: _l("Fixed / dealt with"),
    ReportStatus.NOT_ACTIONABLE: _l("Closed: nothing the team could do"),
    ReportStatus.DUPLICATE: _l("Closed: already reported"),
    ReportStatus.REFERRED: _l("Passed to another organisation"),
}
# Held and failing reports are the partnership's business: the reporter is told only that
# their report arrived, never why it waits.
OTHERWISE = _l("Received")
NO_PARTNER = _l("the team that can act")


# A report shown at ward precision must not be placed more finely by a filter or an alert that
# tests its exact point (a town centre, a distance): only these precisions take part in those.
POINT_PRECISIONS = (Location.EXACT.value, Location.SNAPPED.value)


def status_words(
    status: ReportStatus, partner: str | None = None, gettext: Callable[[str], str] = str
) -> str:
    """A report's status in residents' words (translated by ``gettext`` where a page has one),
    naming the partner that has it where the words do."""
    words = gettext(STATUS_WORDS.get(status, OTHERWISE))
    return words % {"partner": partner or gettext(NO_PARTNER)} if "%(" in words else words


@dataclass(frozen=True)
class Choice:
    """One option of a filter: what the address carries and what a resident reads."""

    slug: str
    name: str
    id: int


@dataclass(frozen=True)
class Choices:
    """What residents may filter by: publicly listed categories, active wards, town centres."""

    categories: Sequence[Choice]
    wards: Sequence[Choice]
    areas: Sequence[Choice]

    @classmethod
    def load(cls, session: Session) -> Choices:
        """The options as stored now."""
        categories = session.execute(
            public_categories().with_only_columns(Category.slug, Category.name, Category.id)
        ).all()
        wards = session.execute(
            select(Ward.slug, Ward.name, Ward.id).where(Ward.active).order_by(Ward.name)
        ).all()
        areas = session.execute(
            select(Area.slug, Area.name, Area.id)
            .where(Area.kind == "town-centre")
            .order_by(Area.name)
        ).all()
        return cls(
            categories=[Choice(*row) for row in categories],
            wards=[Choice(*row) for row in wards],
            areas=[Choice(*row) for row in areas],
        )

    def find(self, kind: str, slug: str) -> Choice | None:
        """The option of ``kind`` ("categories", "wards", "areas") with this slug."""
        return next((c for c in getattr(self, kind) if c.slug == slug), None)


def public_categories() -> Select[tuple[Category]]:
    """Categories whose reports the public may see one by one, in the form's order."""
    return (
        select(Category)
        .where(Category.public, Category.disclosure_listed)
        .order_by(Category.position, Category.name)
    )


@dataclass(frozen=True)
class Filters:
    """What a resident asked to see; every field is optional."""

    category: Choice | None = None
    ward: Choice | None = None
    area: Choice | None = None
    status: str = ""  # "", "open" or "closed"
    days: int = DEFAULT_DAYS
    page: int = 1
    # What could not be understood, by field, in words; the rest of the filters still apply.
    problems: Mapping[str, str] = field(default_factory=dict)

    def query_args(self, **changes: object) -> dict[str, object]:
        """The filters as query parameters (for links to other pages, the feed, alerts)."""
        args: dict[str, object] = {
            "category": self.category.slug if self.category else None,
            "ward": self.ward.slug if self.ward else None,
            "area": self.area.slug if self.area else None,
            "status": self.status or None,
            "days": self.days if self.days != DEFAULT_DAYS else None,
            "page": self.page if self.page != 1 else None,
        } | changes
        return {key: value for key, value in args.items() if value is not None}

    def describe(self, gettext: Callable[[str], str] = str) -> str:
        """The filters in words, for headings and feed titles, in ``gettext``'s language. Each
        filter wraps the words so far in a message of its own, so a translator can put it
        where their language wants it."""
        words = gettext(self.category.name) if self.category else gettext(_l("Reports"))
        if self.ward:
            words = gettext(_l("%(what)s in %(ward)s ward")) % {
                "what": words,
                "ward": self.ward.name,
            }
        if self.area:
            words = gettext(_l("%(what)s in %(area)s")) % {"what": words, "area": self.area.name}
        if self.status:
            status = {"open": _l("open"), "closed": _l("closed")}.get(self.status, self.status)
            words = gettext(_l("%(what)s (%(status)s)")) % {
                "what": words,
                "status": gettext(status),
            }
        return gettext(_l("%(what)s from the last %(days)s days")) % {
            "what": words,
            "days": self.days,
        }


def parse_filters(args: Mapping[str, str], choices: Choices) -> Filters:
    """Filters from a query string; anything not understood is named and left out."""
    problems: dict[str, str] = {}

    def pick(name: str, kind: str) -> Choice | None:
        slug = (args.get(name) or "").strip()
        if not slug:
            return None
        found = choices.find(kind, slug)
        if found is None:
            problems[name] = "is not one of the options"
        return found

    category, ward, area = (
        pick("category", "categories"),
        pick("ward", "wards"),
        pick("area", "areas"),
    )
    status = (args.get("status") or "").strip()
    if status not in ("", "open", "closed"):
        problems["status"] = "must be open or closed"
        status = ""
    days = _number(args.get("days"), DEFAULT_DAYS)
    if days not in DAY_CHOICES:
        problems["days"] = f"must be one of {', '.join(map(str, DAY_CHOICES))}"
        days = DEFAULT_DAYS
    page = _number(args.get("page"), 1)
    if not 1 <= page <= 10_000:
        problems["page"] = "is not a page number"
        page = 1
    return Filters(category, ward, area, status, days, page, problems)


def _number(raw: str | None, default: int) -> int:
    text = (raw or "").strip()
    if not text:
        return default
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else -1


def public_reports(filters: Filters, now: datetime) -> Select[tuple[Report]]:
    """Reports the public may see one by one that match ``filters``, newest first."""
    query = (
        select(Report)
        .join(Category, Category.id == Report.category_id)
        .where(
            Category.public,
            Category.disclosure_listed,
            Report.status.in_(sorted(s.value for s in PUBLIC_STATUSES)),
            Report.created_at >= now - timedelta(days=filters.days),
        )
    )
    if filters.category:
        query = query.where(Report.category_id == filters.category.id)
    if filters.ward:
        # Wards are versioned: a report keeps the ward it was routed in, matched here by name.
        query = query.where(
            Report.ward_id.in_(select(Ward.id).where(Ward.slug == filters.ward.slug))
        )
    if filters.area:
        query = query.where(
            Category.disclosure_location.in_(POINT_PRECISIONS),
            select(Area.id)
            .where(Area.id == filters.area.id, func.ST_Covers(Area.geom, Report.location))
            .exists(),
        )
    if filters.status == "open":
        query = query.where(Report.status.in_(sorted(s.value for s in OPEN)))
    elif filters.status == "closed":
        query = query.where(Report.status.in_(sorted(s.value for s in CLOSED)))
    return query.order_by(Report.created_at.desc(), Report.id.desc())


@dataclass(frozen=True)
class Row:
    """One report as the public may see it."""

    reference: str
    category: str
    place: Place | None
    when: str
    when_value: datetime | None
    status: str
    closed: bool
    description: str | None
    status_value: ReportStatus | None = None
    partner: str | None = None

    def status_in(self, gettext: Callable[[str], str]) -> str:
        """The status in ``gettext``'s language (``status`` is the English)."""
        if self.status_value is None:
            return gettext(self.status)
        return status_words(self.status_value, self.partner, gettext)

    @property
    def pin(self) -> tuple[float, float] | None:
        """(lat, lon) of the map pin, or None where only the ward may be shown."""
        if self.place is None or self.place.lat is None or self.place.lon is None:
            return None
        return self.place.lat, self.place.lon


def public_row(report: Report) -> Row | None:
    """What the public may see of one report, or None if it may not be shown at all."""
    shown = disclose(report, Audience.PUBLIC)
    if not shown.listed:
        return None
    created = shown.created
    return Row(
        reference=report.reference,
        category=report.category.name,
        place=shown.place,
        when=str(created) if created else "",
        when_value=created.value if created else None,
        status=status_words(report.status, report.owner.name if report.owner else None),
        closed=report.status in CLOSED,
        description=shown.description,
        status_value=report.status,
        partner=report.owner.name if report.owner else None,
    )


def rows_of(reports: Sequence[Report]) -> list[Row]:
    """The public rows of some reports, leaving out any the policy does not list."""
    return [row for report in reports if (row := public_row(report)) is not None]


@dataclass(frozen=True)
class Page:
    """One page of the public list."""

    rows: list[Row]
    total: int
    number: int
    has_next: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


# What a row shows, loaded with the page: ward, owner, and a typed place's outline.
_ROW_LOADS = (
    joinedload(Report.ward),
    joinedload(Report.owner),
    joinedload(Report.place_extent).undefer(PlaceExtent.geom),
)


def page_of_reports(session: Session, filters: Filters, now: datetime) -> Page:
    """The page of public reports ``filters`` ask for."""
    query = public_reports(filters, now)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    reports = session.scalars(
        query.options(*_ROW_LOADS).offset((filters.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return Page(
        rows=rows_of(reports),
        total=total or 0,
        number=filters.page,
        has_next=filters.page * PAGE_SIZE < (total or 0),
    )


def latest_rows(session: Session, filters: Filters, now: datetime, limit: int = 50) -> list[Row]:
    """The newest public rows for ``filters`` (feeds), whatever page was asked for."""
    reports = session.scalars(public_reports(filters, now).options(*_ROW_LOADS).limit(limit)).all()
    return rows_of(reports)
