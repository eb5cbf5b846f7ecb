"""The disclosure policy: what each audience may see of a report, and at what precision.

Every surface that shows a report (pages, the JSON API, Open311, exports, emails, maps) asks
``disclose(report, audience)`` and renders what it answers; none decides for itself. What the
public may see is data per category (``Category.disclosure_*``, seeded from
``data/defaults/disclosure.toml``); what staff, the board and administrators see follows from
their relation to the report (``Audience``). The words residents read on the form and on
``/privacy`` are made here too (``promises``), so they cannot drift from what endpoints do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from babel.dates import format_datetime
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from geo.snapping import SnapPoints
from geo.suntimes import LONDON
from safer_streets import taxonomy
from safer_streets.models import Category, Report, ReportPhoto, ReportStatus


def _l(message: str) -> str:
    """Marks a message for translators (``pybabel extract -k _l``); pages translate it when
    they show it, as the README's tables are English."""
    return message


class Audience(enum.Enum):
    """Who is looking at a report."""

    PUBLIC = "public"  # anyone at all, and an API client without a key
    API_CLIENT = "api-client"  # a verified API key that acts for no partner
    REPORTER = "reporter"  # whoever holds the private tracking link the reporter was given
    OWNER_STAFF = "owner-staff"
    NOTIFIED_STAFF = "notified-staff"
    PARTNER_ADMIN = "partner-admin"  # an administrator of the owner partner
    BOARD = "board"
    BOARD_CASE_DETAIL = "board-case-detail"  # a board account allowed case detail
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return AUDIENCE_LABELS[self]


AUDIENCE_LABELS = {
    Audience.PUBLIC: _l("Anyone (public pages, Open311 and the JSON API without a key)"),
    Audience.API_CLIENT: _l("An API client with a key of its own"),
    Audience.REPORTER: _l("The resident who reported it (their private tracking link)"),
    Audience.OWNER_STAFF: _l("Staff of the partner handling it"),
    Audience.NOTIFIED_STAFF: _l("Staff of a partner kept informed"),
    Audience.PARTNER_ADMIN: _l("Administrators of the partner handling it"),
    Audience.BOARD: _l("Safety board"),
    Audience.BOARD_CASE_DETAIL: _l("Safety board members allowed case detail"),
    Audience.ADMIN: _l("System administrators"),
}

PUBLIC_AUDIENCES = frozenset({Audience.PUBLIC, Audience.API_CLIENT, Audience.REPORTER})


class Location(enum.StrEnum):
    """How precisely a report's place is shown, from most to least precise."""

    EXACT = "exact"
    SNAPPED = "snapped"  # the nearest police.uk map point in the ward (geo.snapping)
    WARD = "ward"
    NONE = "none"


class TimePrecision(enum.StrEnum):
    """How precisely a report's times are shown."""

    EXACT = "exact"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class Description(enum.StrEnum):
    """Which of the resident's words are shown."""

    FULL = "full"  # as written, unless a partner has moderated it
    MODERATED = "moderated"  # only once a partner has checked it and set the public text
    NONE = "none"


class Photo(enum.StrEnum):
    """Which photos are shown."""

    ANY = "any"
    APPROVED = "approved"  # only once a partner has approved it for public view
    NONE = "none"


@dataclass(frozen=True)
class CategoryPolicy:
    """What the public may see of one category's reports (the policy as data)."""

    listed: bool
    location: Location
    time: TimePrecision
    description: Description

    @classmethod
    def of(cls, category: Category) -> CategoryPolicy:
        return cls(
            listed=category.disclosure_listed,
            location=Location(category.disclosure_location),
            time=TimePrecision(category.disclosure_time),
            description=Description(category.disclosure_description),
        )


@dataclass(frozen=True)
class Rules:
    """What one audience may see of one category's reports."""

    # Whether the report may be shown one by one at all (lists, maps, look-ups, detail pages).
    listed: bool
    location: Location
    time: TimePrecision
    description: Description
    photo: Photo
    reasons: bool
    supporters: bool
    contact: bool
    internal_notes: bool
    # The routing reason as staff wrote it, or its public wording (category, ward, partner).
    internal_routing_reason: bool
    # Whether each view of the report's detail is written to the access log.
    logged: bool


HIDDEN = Rules(
    listed=False,
    location=Location.NONE,
    time=TimePrecision.MONTH,
    description=Description.NONE,
    photo=Photo.NONE,
    reasons=False,
    supporters=False,
    contact=False,
    internal_notes=False,
    internal_routing_reason=False,
    logged=False,
)


def rules_for(category: Category, audience: Audience) -> Rules:
    """The rules one audience follows for one category's reports."""
    return _rules(CategoryPolicy.of(category), category.sensitive, category.public, audience)


@cache
def _rules(public: CategoryPolicy, sensitive: bool, shown: bool, audience: Audience) -> Rules:
    # Keyed by the category's settings, not the category: a queue or an export asks once per
    # report, and an administrator's change to a category is a new key, never a stale answer.
    # A sensitive category is never listed in public, whatever profile it was given.
    listed = public.listed and shown and not sensitive
    if audience in (Audience.PUBLIC, Audience.API_CLIENT):
        if not listed:
            return HIDDEN
        return Rules(
            listed=True,
            location=public.location,
            time=public.time,
            description=public.description,
            photo=Photo.APPROVED,
            reasons=public.description is Description.FULL,
            supporters=True,
            contact=False,
            internal_notes=False,
            internal_routing_reason=False,
            logged=False,
        )
    if audience is Audience.REPORTER:
        # The reporter follows their own report even where the public sees none of it, but the
        # link may be shared or seen over a shoulder: no more than the public's place and words.
        return Rules(
            listed=True,
            location=public.location if listed else Location.WARD,
            time=public.time,
            description=public.description if listed else Description.NONE,
            photo=Photo.APPROVED if listed else Photo.NONE,
            reasons=listed and public.description is Description.FULL,
            supporters=not sensitive,
            contact=False,
            internal_notes=False,
            internal_routing_reason=False,
            logged=False,
        )
    if audience is Audience.BOARD and sensitive:
        return HIDDEN  # the board sees sensitive reports in aggregates only
    staff = audience in (Audience.OWNER_STAFF, Audience.NOTIFIED_STAFF, Audience.PARTNER_ADMIN)
    return Rules(
        listed=True,
        location=Location.EXACT,
        time=TimePrecision.EXACT,
        description=Description.FULL,
        photo=Photo.ANY,
        reasons=True,
        supporters=True,
        contact=audience in (Audience.OWNER_STAFF, Audience.PARTNER_ADMIN),
        internal_notes=staff or audience is Audience.ADMIN,
        internal_routing_reason=True,
        logged=sensitive,
    )


# ---- Applying the rules to one report ------------------------------------------------------


@cache
def snap_points() -> SnapPoints:
    """The police.uk map points, loaded once per process."""
    return SnapPoints.shipped()


@dataclass(frozen=True)
class Place:
    """Where a report is, as one audience may see it: a point (None at ward precision), and
    for a report placed from a typed street or place, where the exact place may be shown,
    the street's or area's ``outline`` (GeoJSON): it is somewhere in there, not at the point."""

    precision: Location
    label: str
    lon: float | None = None
    lat: float | None = None
    outline: dict[str, Any] | None = None


# Dates on every resident page read as in the UK: "3 December 2026", never "12/3/2026".
DATE_LOCALE = "en_GB"
MOMENT_PATTERNS = {
    TimePrecision.EXACT: "d MMMM y, HH:mm",
    TimePrecision.HOUR: "d MMMM y, 'around' HH':00'",
    TimePrecision.DAY: "d MMMM y",
    TimePrecision.MONTH: "MMMM y",
}


@dataclass(frozen=True)
class Moment:
    """A time as one audience may see it: truncated to its precision, in London time."""

    value: datetime
    precision: TimePrecision

    def __str__(self) -> str:
        # Babel's CLDR data, not strftime, whose month names follow the server's C locale.
        return format_datetime(
            self.value, MOMENT_PATTERNS[self.precision], tzinfo=LONDON, locale=DATE_LOCALE
        )


def truncate(value: datetime, precision: TimePrecision) -> datetime:
    """``value`` in London time with everything finer than ``precision`` set to zero."""
    try:
        local = value.astimezone(LONDON)
    except OverflowError:
        # Stored before intake bounded times (year 1): kept as stored, never a 500.
        local = value
    if precision is TimePrecision.EXACT:
        return local
    local = local.replace(minute=0, second=0, microsecond=0)
    if precision is TimePrecision.HOUR:
        return local
    midnight = datetime(local.year, local.month, local.day, tzinfo=LONDON)
    if precision is TimePrecision.DAY:
        return midnight
    return midnight - timedelta(days=midnight.day - 1)


@dataclass(frozen=True)
class Contact:
    """How to reach the reporter, for the owner partner's staff only."""

    email: str | None
    name: str | None
    phone: str | None


class Disclosure:
    """One report as one audience may see it. Surfaces read a report's details only here."""

    def __init__(self, report: Report, audience: Audience) -> None:
        self.report = report
        self.audience = audience
        rules = rules_for(report.category, audience)
        # A report held for review (abuse list) is nobody's business but the partnership's.
        if report.status is ReportStatus.HELD and audience in PUBLIC_AUDIENCES:
            rules = HIDDEN
        self.rules = rules

    @property
    def listed(self) -> bool:
        return self.rules.listed

    @property
    def place(self) -> Place | None:
        """The report's place at the precision allowed, or None if it may not be shown."""
        report, precision = self.report, self.rules.location
        if not self.listed or precision is Location.NONE or report.location is None:
            return None
        ward = report.ward
        if precision is Location.EXACT:
            point = to_shape(report.location)
            extent = report.place_extent
            if extent is not None:
                where = "on" if extent.kind == "street" else "in"
                outline = mapping(to_shape(extent.geom))
                return Place(
                    precision, f"Somewhere {where} {extent.label}", point.x, point.y, outline
                )
            label = report.street or (ward.name if ward else "Lewisham")
            return Place(precision, label, point.x, point.y)
        if ward is None:
            return None
        if precision is Location.SNAPPED:
            point = to_shape(report.location)
            snapped = snap_points().nearest(point.x, point.y, ward.code)
            if snapped is not None:
                return Place(precision, f"On or near {snapped.name}", snapped.lon, snapped.lat)
        return Place(Location.WARD, f"{ward.name} ward")

    @property
    def location_text(self) -> str | None:
        """What the resident typed for the place, only where the exact place may be shown."""
        if not self.listed or self.rules.location is not Location.EXACT:
            return None
        return self.report.location_text

    def moment(self, value: datetime | None) -> Moment | None:
        """A time of this report (made, happened, updated) at the precision allowed."""
        if value is None or not self.listed:
            return None
        return Moment(truncate(value, self.rules.time), self.rules.time)

    @property
    def created(self) -> Moment | None:
        return self.moment(self.report.created_at)

    @property
    def occurred(self) -> Moment | None:
        return self.moment(self.report.occurred_at)

    @property
    def description(self) -> str | None:
        """The words this audience may read: as written, as a partner moderated them, or none."""
        if not self.listed:
            return None
        report, rule = self.report, self.rules.description
        if rule is Description.NONE:
            return None
        if self.audience not in PUBLIC_AUDIENCES:
            return report.description
        if report.public_description is not None:
            return report.public_description or None  # "" means a partner hid it
        return report.description if rule is Description.FULL else None

    def shows_photo(self, photo: ReportPhoto | None) -> bool:
        """Whether this audience may see the report's photo."""
        if photo is None or not self.listed:
            return False
        if self.rules.photo is Photo.APPROVED:
            return photo.approved_at is not None
        return self.rules.photo is Photo.ANY

    @property
    def reasons(self) -> list[str]:
        """The StreetSafe reasons the resident gave, in words."""
        if not (self.listed and self.rules.reasons):
            return []
        if not self.report.reasons:
            return []
        session = Session.object_session(self.report)
        if session is None:
            # A report not read from the database (a preview) has no stored reasons to name.
            return []
        return taxonomy.reason_labels(session, self.report.category.slug, self.report.reasons)

    @property
    def supporters(self) -> int | None:
        """How many people added their voice, where this audience may know."""
        return self.report.supporter_count if self.listed and self.rules.supporters else None

    @property
    def contact(self) -> Contact | None:
        """The reporter's contact details: the owner partner's staff only, if they gave any."""
        report = self.report
        if not (self.listed and self.rules.contact) or report.anonymous:
            return None
        if not (report.contact_email or report.contact_name or report.contact_phone):
            return None
        return Contact(report.contact_email, report.contact_name, report.contact_phone)

    @property
    def internal_notes(self) -> bool:
        return self.listed and self.rules.internal_notes

    @property
    def routing_reason(self) -> str | None:
        """Why the report went where it did: staff's words, or a public wording of them."""
        report = self.report
        if not self.listed:
            return None
        if self.rules.internal_routing_reason:
            return report.routing_reason
        return public_routing_reason(report)

    @property
    def logged(self) -> bool:
        """Whether showing this report's detail must be written to the access log."""
        return self.listed and self.rules.logged


def disclose(report: Report, audience: Audience) -> Disclosure:
    """What ``audience`` may see of ``report``."""
    return Disclosure(report, audience)


def reporters_own_point(report: Report) -> tuple[float, float] | None:
    """The exact (lon, lat) a resident chose, for the browser that made the report only (to
    report another problem at the same spot); never for anyone else."""
    if report.location is None:
        return None
    point = to_shape(report.location)
    return point.x, point.y


def public_routing_reason(report: Report) -> str | None:
    """Why a report went to its partner, in words that carry nothing a resident wrote."""
    if report.owner is None:
        return None
    where = f" in {report.ward.name} ward" if report.ward else ""
    return f"{report.category.name} reports{where} go to {report.owner.name}."


# ---- What residents are told ---------------------------------------------------------------


def promises(category: Category) -> list[str]:
    """What the public will see of a report in this category, in the resident's words."""
    public = rules_for(category, Audience.PUBLIC)
    if not public.listed:
        return [
            _l("This report is never shown to the public, on the map, in lists or to other apps."),
            _l("Only the police and council teams handling it see it."),
        ]
    place = {
        Location.EXACT: _l("The public map shows the spot you choose."),
        Location.SNAPPED: _l(
            "The public map shows the nearest street point police.uk uses, never the exact"
            " spot (or only the ward, if no street point is near)."
        ),
        Location.WARD: _l("The public sees only the ward, not the place."),
        Location.NONE: _l("The public does not see where it is."),
    }[public.location]
    time = {
        TimePrecision.EXACT: _l("It shows the date and time you report it."),
        TimePrecision.HOUR: _l("It shows the date and hour you report it."),
        TimePrecision.DAY: _l("It shows the day you report it, not the time."),
        TimePrecision.MONTH: _l("It shows the month you report it, not the day."),
    }[public.time]
    words = {
        Description.FULL: _l(
            "Your description is public, as on FixMyStreet: please leave out names and"
            " anything that identifies you or anyone else."
        ),
        Description.MODERATED: _l(
            "Your description stays private unless a partner publishes a checked version"
            " without personal details."
        ),
        Description.NONE: _l("Your description is never public."),
    }[public.description]
    return [
        place,
        time,
        words,
        _l("A photo is public only after a partner has checked and approved it."),
        _l("Your email is seen only by the team handling your report."),
    ]
