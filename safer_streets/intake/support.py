"""Adding your voice (+1) to an open report nearby, instead of reporting the same thing again."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.snapping import MAX_SNAP_DISTANCE_M
from geo.suntimes import LONDON, is_after_dark
from safer_streets import taxonomy
from safer_streets.bounds import stated_occurred_at
from safer_streets.disclosure.policy import (
    Audience,
    Disclosure,
    Location,
    Place,
    disclose,
    rules_for,
    snap_points,
)
from safer_streets.errors import Conflict, InvalidInput, NotFound, plain_field_errors
from safer_streets.intake import submission
from safer_streets.intake.similar import nearby_open_reports
from safer_streets.models import (
    OPEN_STATUSES,
    ApiClient,
    Category,
    Report,
    ReportEvent,
    ReportSupport,
)

RADIUS_M = 50
# Two points snapped to the same police.uk map point are within twice its reach of each other.
SAME_POINT_RADIUS_M = 2 * MAX_SNAP_DISTANCE_M
DAYS = 30
MAX_SUGGESTIONS = 5
MAX_CANDIDATES = 50
MAX_KEY_CHARS = 200
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class SimilarReport:
    """What a resident is shown about a nearby report: only what the public may see of it."""

    reference: str
    category: str
    street: str  # the place in words, at the precision the public may see
    distance_m: int  # to the place as the public sees it, never to the reported spot
    created_at: datetime  # at the precision the public may see
    supporter_count: int


@dataclass(frozen=True)
class SimilarWords:
    """A similar report's row in words, so that rows that look alike can be told apart."""

    reported: str  # "3 days ago"
    distance: str  # "about 40 m away"
    supporters: str  # "2 people have added their voice"


def _untranslated_plural(singular: str, plural: str, num: int) -> str:
    return (singular if num == 1 else plural) % {"num": num}


def similar_words(
    item: SimilarReport,
    today: date,
    gettext: Callable[[str], str] = lambda message: message,
    ngettext: Callable[[str, str, int], str] = _untranslated_plural,
) -> SimilarWords:
    """``item`` in the resident's words (``ngettext`` fills in ``num``): days rather than
    hours, as the public may see only the day a report was made; no "0 m" or "0 people"."""
    days = (today - item.created_at.astimezone(LONDON).date()).days
    if days <= 0:
        reported = gettext("Reported today")
    elif days == 1:
        reported = gettext("Reported yesterday")
    else:
        reported = ngettext("Reported %(num)s day ago", "Reported %(num)s days ago", days)
    if item.distance_m == 0:
        distance = gettext("Here")
    elif item.distance_m < 10:
        distance = gettext("Within 10 m")
    else:
        distance = gettext("About %(metres)s m away") % {"metres": item.distance_m}
    if item.supporter_count == 0:
        supporters = gettext("Nobody has added their voice yet")
    else:
        supporters = ngettext(
            "%(num)s person has added their voice",
            "%(num)s people have added their voice",
            item.supporter_count,
        )
    return SimilarWords(reported, distance, supporters)


def _metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine): plenty for "about 30 m away"."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _same_public_point(shown: Disclosure, place: Place, lon: float, lat: float) -> bool:
    """Whether (lon, lat) would be shown at the same public point as this report."""
    if place.precision is Location.EXACT:
        return True
    ward = shown.report.ward
    here = snap_points().nearest(lon, lat, ward.code) if ward is not None else None
    return here is not None and (here.lon, here.lat) == (place.lon, place.lat)


# Built once: the report form asks on every first POST.
_CATEGORY_BY_SLUG = select(Category).where(Category.slug == bindparam("slug"))


def similar_open_reports(
    session: Session, *, category_slug: str, lon: float, lat: float
) -> list[SimilarReport]:
    """Open reports of the same category from the last 30 days at the same public place,
    nearest first: within 50 m where the public sees the exact spot; at the same police.uk
    street point where it sees that point only. So asking at any point learns no more of a
    report than the public map shows.

    Never where the public may not know a report's supporters (harassment, weapons): saying
    "someone reported harassment 20 m from here" would reveal where it was made.
    """
    category = session.scalar(_CATEGORY_BY_SLUG, {"slug": category_slug})
    if category is None or not rules_for(category, Audience.PUBLIC).supporters:
        return []
    exact = rules_for(category, Audience.PUBLIC).location is Location.EXACT
    found = nearby_open_reports(
        session,
        lon=lon,
        lat=lat,
        category_id=category.id,
        radius_m=RADIUS_M if exact else SAME_POINT_RADIUS_M,
        days=DAYS,
        limit=MAX_SUGGESTIONS if exact else MAX_CANDIDATES,
    )
    similar = []
    for report in found:
        shown = disclose(report, Audience.PUBLIC)
        place, created = shown.place, shown.created
        if place is None or place.lon is None or place.lat is None or created is None:
            continue
        if shown.supporters is None or not _same_public_point(shown, place, lon, lat):
            continue
        metres = _metres_between(lon, lat, place.lon, place.lat)
        similar.append(
            SimilarReport(
                reference=report.reference,
                category=category.name,
                street=place.label,
                # Rounded to 5 m: the resident needs "is this the same place?", not a survey.
                distance_m=int(5 * round(metres / 5)),
                created_at=created.value,
                supporter_count=shown.supporters,
            )
        )
    # Reports at one public point are equally far: their true order would say which is nearer.
    similar.sort(key=lambda one: (one.distance_m, one.reference))
    return similar[:MAX_SUGGESTIONS]


class SupportDetails(BaseModel):
    """What a supporter may tell us about themselves, all optional: the reasons it feels
    unsafe to them, when it happened to them, and where to send the report's updates."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reasons: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        default_factory=list,
        max_length=20,
        description="Reasons within the report's category, e.g. `badly-lit` for `feeling-unsafe`.",
    )
    occurred_at: Annotated[datetime | None, AfterValidator(stated_occurred_at)] = Field(
        default=None,
        description="When it happened to the supporter (ISO 8601 with time zone), from "
        "2000-01-01 to a few minutes from now.",
    )
    email: EmailStr | None = Field(
        default=None,
        description="Where to send this report's public updates and its resolution; never "
        "shown, and forgotten when they stop them or some weeks after the report closes.",
    )

    @field_validator("reasons")
    @classmethod
    def _no_nul(cls, value: list[str]) -> list[str]:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail on insert.
        if any("\x00" in reason for reason in value):
            raise ValueError("must not contain NUL characters")
        return value


NO_DETAILS = SupportDetails()
_DETAIL_MESSAGES: dict[str, str | None] = {
    "string_type": "must be text",
    "extra_forbidden": "is not a recognised field",
    "datetime_parsing": "must be a date and time in ISO 8601 format",
    "datetime_from_date_parsing": "must be a date and time in ISO 8601 format",
    "datetime_type": "must be a date and time in ISO 8601 format",
    "list_type": "must be a list",
    "too_long": "has too many items",
    "string_too_long": "must be at most 40 characters",
    "value_error": None,
}


def parse_support_details(data: Any, offered: Collection[str]) -> SupportDetails:
    """Validate what a supporter sent about themselves (a JSON object or form fields mapped
    onto one), for a report whose category offers the reason keys ``offered``; raises
    ``InvalidInput`` and nothing else."""
    if data is None:
        return NO_DETAILS
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    try:
        details = SupportDetails.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            plain_field_errors(
                error,
                _DETAIL_MESSAGES,
                whole="body",
                field_messages={("email", "value_error"): "must be a valid email address"},
            )
        ) from None
    if bad := [key for key in details.reasons if key not in offered]:
        raise InvalidInput({"reasons": f"not a reason for this report: {', '.join(bad)}"})
    # The same reason ticked twice is one reason given.
    return details.model_copy(update={"reasons": list(dict.fromkeys(details.reasons))})


@dataclass(frozen=True)
class Support:
    """The outcome of adding support: the report and whether this request counted."""

    report: Report
    counted: bool


def support_key_hash(report_id: int, supporter: str) -> str:
    """What is stored instead of the supporter's id."""
    return hashlib.sha256(f"{report_id}:{supporter}".encode()).hexdigest()


def client_supporter(client: ApiClient) -> str:
    """The supporter an API client is: one +1 per client and report, whatever it sends."""
    return f"api-client:{client.id}"


def supportable(session: Session, reference: str) -> Disclosure:
    """The report a resident may add their voice to, as the public sees it.

    A report the public may not see one by one (harassment, weapons, held) is ``NotFound`` as
    an unknown reference is; one whose supporters the public may not know, or a closed one, is
    refused.
    """
    report = submission.get_report(session, reference)
    shown = disclose(report, Audience.PUBLIC)
    if not shown.listed:
        raise NotFound(f"no report with reference {reference!r}")
    if shown.supporters is None:
        raise Conflict(
            f"{report.category.name} reports cannot be supported: if this happened to you too, "
            "please make a report of your own"
        )
    if report.status not in OPEN_STATUSES:
        raise Conflict("this report is closed: if the problem is back, please make a new report")
    return shown


def offered_keys(session: Session, category_slug: str) -> frozenset[str]:
    """The reason keys a supporter may give for a report of this category."""
    return frozenset(r.key for r in taxonomy.reasons_for(session, category_slug))


def add_support(
    session: Session,
    reference: str,
    *,
    supporters: Sequence[str],
    source: str = "web",
    details: SupportDetails = NO_DETAILS,
) -> Support:
    """Record one person's +1 on an open report: it counts only if none of ``supporters`` has
    supported the report before.

    ``supporters`` are every id the server can give the person: always their address (keyed
    and hashed by the web layer, never stored as it is, with the API key when one verified),
    and their browser's cookie or their verified API client. So one address adds one voice to
    a report, whatever cookies, forms or Idempotency-Keys it sends: a flood from one place
    cannot move a report up a partner's queue. Never something the request merely claims, such
    as an Idempotency-Key: a new one on every request was a new supporter every time. The count
    is raised in SQL, not through the ORM, so a +1 never clashes with a partner's edit under
    optimistic locking.

    Only a ``supportable`` report counts a voice. ``details`` (checked against the report's
    category) are kept on one of the person's rows only, and only when they count: a repeat
    neither adds a person nor rewrites one.
    """
    ids = {supporter.strip() for supporter in supporters}
    if not ids or any(not one or len(one) > MAX_KEY_CHARS for one in ids):
        raise InvalidInput({"supporter": f"must be 1 to {MAX_KEY_CHARS} characters"})
    report = supportable(session, reference).report
    if bad := taxonomy.invalid_reasons(session, report.category.slug, details.reasons):
        raise InvalidInput({"reasons": f"not a reason for this report: {', '.join(bad)}"})
    inserted = session.scalars(
        insert(ReportSupport)
        .values(
            [
                {
                    "report_id": report.id,
                    "key_hash": support_key_hash(report.id, s),
                    "source": source,
                }
                for s in sorted(ids)
            ]
        )
        .on_conflict_do_nothing(constraint="support_once")
        .returning(ReportSupport.id)
    ).all()
    # Any id seen before means this person has already been counted; the new ones are kept,
    # so that the same person is recognised by them too.
    if len(inserted) < len(ids):
        return Support(report, counted=False)
    person = session.get(ReportSupport, min(inserted))
    if person is not None:
        # As the report's own: from when it happened to them, or else from now.
        person.reasons = list(details.reasons)
        person.occurred_at = details.occurred_at
        person.after_dark = is_after_dark(details.occurred_at or datetime.now(UTC))
        person.email = str(details.email) if details.email else None
    session.execute(
        update(Report)
        .where(Report.id == report.id)
        .values(supporter_count=Report.supporter_count + 1)
        .execution_options(synchronize_session=False)
    )
    session.add(ReportEvent(report_id=report.id, kind="supported", data={"source": source}))
    session.flush()
    session.refresh(report, ["supporter_count"])
    return Support(report, counted=True)
