"""Submitting a report and processing it: the heart of the intake flow."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from geoalchemy2 import Geography
from geoalchemy2.shape import from_shape, to_shape
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    ValidationError,
    field_validator,
)
from shapely.geometry import Point
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import Select, cast, delete, func, literal_column, select, text
from sqlalchemy.orm import Session

from geo.coordinates import PointRejected, check_point
from geo.gazetteer import (
    Candidate,
    Gazetteer,
    Geocoder,
    OfflineGeocoder,
    OutsideBorough,
    default_gazetteer,
    is_ambiguous,
    normalise_postcode,
    outward_code,
)
from geo.hotspots import is_after_dark
from geo.wards import Borough, WardIndex, WardShape
from safer_streets import abuse, notifications, routing, sla
from safer_streets.errors import Conflict, InvalidInput, NotFound
from safer_streets.geocoding import make_geocoder
from safer_streets.models import (
    ApiClient,
    Area,
    Category,
    Report,
    ReportEvent,
    ReportNotifiedPartner,
    ReportStatus,
    RoutingDataVersion,
    User,
    Ward,
)
from safer_streets.settings import Settings
from safer_streets.taxonomy import invalid_reasons

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L or U: references are read aloud over the phone and typed on small keyboards.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "LEW-"
MAX_DESCRIPTION_CHARS = 4000
# Below this a typed street or place is not used without a person confirming it.
CONFIDENT = 0.9

Description = Annotated[str, StringConstraints(strip_whitespace=True)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")
]


class ReportSubmission(BaseModel):
    """What a resident or client sends to report a problem; validated before anything is stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(description="Category slug, e.g. `drug-dealing`.", max_length=80)
    lat: float | None = Field(
        default=None, description="Latitude (WGS84); with `lon`.", allow_inf_nan=False
    )
    lon: float | None = Field(
        default=None, description="Longitude (WGS84); with `lat`.", allow_inf_nan=False
    )
    location_text: str | None = Field(
        default=None,
        max_length=200,
        description="A postcode, street or place, when there is no point (e.g. `SE6 4JU`).",
    )
    reasons: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        default_factory=list,
        max_length=20,
        description="Reasons within the category, e.g. `badly-lit` for `feeling-unsafe`.",
    )
    description: Description = Field(
        description="What is wrong, in the reporter's words.",
        min_length=1,
        json_schema_extra={"maxLength": MAX_DESCRIPTION_CHARS},
    )
    occurred_at: datetime | None = Field(
        default=None, description="When it happened (ISO 8601 with time zone)."
    )
    anonymous: bool = Field(default=True, description="Keep the reporter's identity private.")
    contact_email: EmailStr | None = Field(
        default=None, description="Where to send updates; never shown publicly."
    )
    contact_name: str | None = Field(
        default=None,
        max_length=200,
        description="The reporter's name; seen only by the partner handling the report.",
    )
    contact_phone: Phone | None = Field(
        default=None,
        description="The reporter's phone number; seen only by the partner handling the report.",
    )
    media_url: HttpUrl | None = Field(
        default=None, max_length=2048, description="Link to a photo of the problem (http or https)."
    )

    @field_validator(
        "category", "location_text", "description", "reasons", "contact_name", "contact_phone"
    )
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail on insert.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("description")
    @classmethod
    def _not_too_long(cls, value: str) -> str:
        if len(value) > MAX_DESCRIPTION_CHARS:
            raise ValueError(f"must be at most {MAX_DESCRIPTION_CHARS} characters")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware_and_past(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-11-24T21:30:00Z")
        if value > datetime.now(UTC):
            raise ValueError("cannot be in the future")
        return value


_PYDANTIC_MESSAGES = {
    "missing": "is required",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "string_too_short": "must not be empty",
    "string_type": "must be text",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "extra_forbidden": "is not a recognised field",
    "datetime_parsing": "must be a date and time in ISO 8601 format",
    "datetime_from_date_parsing": "must be a date and time in ISO 8601 format",
    "datetime_type": "must be a date and time in ISO 8601 format",
    "list_type": "must be a list",
    "too_long": "has too many items",
    "url_parsing": "must be an http or https URL",
    "url_scheme": "must be an http or https URL",
    "url_type": "must be an http or https URL",
    "value_error": None,
}
_FIELD_MESSAGES = {
    ("contact_email", "value_error"): "must be a valid email address",
    ("contact_phone", "string_pattern_mismatch"): "must be a phone number",
}


def field_errors(error: ValidationError) -> dict[str, str]:
    """Turn a pydantic error into one plain message per field."""
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False):
        # The model is flat: an error inside a list ("reasons", 2) belongs to the list's field.
        field = str(item["loc"][0]) if item["loc"] else "body"
        message = _PYDANTIC_MESSAGES.get(item["type"], item["msg"])
        if message is None:
            message = item["msg"].removeprefix("Value error, ")
        message = _FIELD_MESSAGES.get((field, item["type"]), message)
        errors.setdefault(field, message)
    return errors


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _location_errors(data: dict[str, Any]) -> dict[str, str]:
    """A report needs a point, or text to place it by; half a point is a mistake."""
    has_lat, has_lon = _present(data.get("lat")), _present(data.get("lon"))
    if has_lat and not has_lon:
        return {"lon": "is required when lat is given"}
    if has_lon and not has_lat:
        return {"lat": "is required when lon is given"}
    if not has_lat and not _present(data.get("location_text")):
        return {"location": "give a location: a point on the map, or a postcode, street or place"}
    return {}


def parse_submission(data: Any) -> ReportSubmission:
    """Validate raw input (a JSON object or form fields) or raise ``InvalidInput``."""
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    try:
        submission = ReportSubmission.model_validate(data)
    except ValidationError as error:
        errors = field_errors(error)
    for field, message in _location_errors(data).items():
        errors.setdefault(field, message)
    if errors:
        raise InvalidInput(errors)
    return submission


@dataclass(frozen=True)
class Places:
    """Where things are: the borough outline, the offline gazetteer and the geocoder in use."""

    borough: Borough
    gazetteer: Gazetteer
    outside: OutsideBorough
    geocoder: Geocoder

    @classmethod
    def default(cls) -> Places:
        """The shipped Lewisham data with the offline geocoder, loaded once per process."""
        return _default_places()

    @classmethod
    def for_settings(cls, settings: Settings) -> Places:
        """The shipped data with the configured geocoder (offline unless set otherwise)."""
        default = _default_places()
        return replace(default, geocoder=make_geocoder(settings, default.gazetteer))


@cache
def _default_places() -> Places:
    gazetteer = default_gazetteer()
    return Places(
        Borough.from_geojson(),
        gazetteer,
        OutsideBorough.from_gazetteer(gazetteer),
        OfflineGeocoder(gazetteer),
    )


def load_ward_index(session: Session) -> WardIndex:
    """The active wards from the database as an in-memory index (build once, reuse)."""
    wards = session.scalars(select(Ward).where(Ward.active)).all()
    return WardIndex(WardShape(w.code, w.name, to_shape(w.geom)) for w in wards)


def _place_submission(
    submission: ReportSubmission, places: Places, *, place_now: bool = False
) -> tuple[Point | None, str | None, dict[str, str]]:
    """The point to store (None when the worker must place text) and any location errors.

    With ``place_now`` a street or place is placed here and now, and text that matches nothing
    or several places is refused instead of being left for the worker and triage.
    """
    if submission.lat is not None and submission.lon is not None:
        try:
            check_point(submission.lat, submission.lon, places.borough)
        except PointRejected as rejected:
            return None, None, {rejected.field: rejected.message}
        return Point(submission.lon, submission.lat), None, {}
    text = submission.location_text or ""
    postcode = normalise_postcode(text)
    if postcode is None:
        if place_now:
            return _place_text_now(text, places)
        return None, None, {}  # a street or place: the worker geocodes it
    found = places.gazetteer.lookup_postcode(postcode)
    if found is not None:
        return Point(found.lon, found.lat), postcode, {}
    where = places.outside.where_to_report(postcode)
    if where:
        message = f"{postcode} is outside Lewisham, in {where}: please report it to that council"
    else:
        message = (
            f"{postcode} is not a Lewisham postcode: check it, or report to the council "
            "for that area"
        )
    return None, None, {"location_text": message}


def _place_text_now(text: str, places: Places) -> tuple[Point | None, None, dict[str, str]]:
    candidates = places.geocoder.search(text)
    best = _confident(candidates)
    if best is not None:
        return Point(best.lon, best.lat), None, {}
    if len(candidates) > 1 and is_ambiguous(candidates):
        found = "; ".join(c.label for c in candidates[:3])
        message = f"{text!r} could be several places ({found}): give a postcode or a point"
    elif candidates:
        message = (
            f"{text!r} is not precise enough (nearest: {candidates[0].label}): give a full "
            "postcode, a street name or a point"
        )
    elif (outward := outward_code(text)) and (where := places.outside.where_to_report(outward)):
        message = f"{outward} is outside Lewisham, in {where}: please report it to that council"
    else:
        message = f"could not find {text!r} in Lewisham: give a postcode, a street name or a point"
    return None, None, {"location_text": message}


def submission_point(submission: ReportSubmission, places: Places) -> tuple[float, float] | None:
    """The (lon, lat) a submission will be stored at, when known before the worker runs."""
    point, _postcode, errors = _place_submission(submission, places)
    return None if point is None or errors else (point.x, point.y)


def fingerprint(submission: ReportSubmission) -> str:
    """A stable hash of a submission, to tell a retry from a different request."""
    payload = json.dumps(submission.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def new_reference() -> str:
    """A short, unambiguous public reference such as ``LEW-7K3Q9``."""
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(5))


@dataclass(frozen=True)
class Receipt:
    """What a resident or client is told at once: the report's id, reference and state."""

    id: int
    reference: str
    status: ReportStatus


# One round trip stores the report and its first event. ON CONFLICT DO NOTHING covers a taken
# reference and a concurrent retry with the same idempotency key alike: no row comes back and
# the caller finds out which; an unknown category also inserts nothing (no row to select).
_RECEIVE = text(
    """
    WITH new AS (
        INSERT INTO report (
            reference, category_id, description, location, location_text, postcode, reasons,
            occurred_at, after_dark, anonymous, contact_email, contact_name, contact_phone,
            media_url, status, source, idempotency_key, request_fingerprint, api_client_id,
            supporter_count, priority, version_id)
        SELECT :reference, category.id, :description,
               ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4326),
               :location_text, :postcode, CAST(:reasons AS varchar(40)[]), :occurred_at,
               :after_dark, :anonymous, :contact_email, :contact_name, :contact_phone,
               :media_url, :status, :source, :idempotency_key, :fingerprint, :api_client_id,
               0, 'normal', 1
        FROM category WHERE category.slug = :category
        ON CONFLICT DO NOTHING
        RETURNING id
    ), submitted AS (
        INSERT INTO report_event (report_id, kind, to_status, public, api_client_id, data)
        SELECT id, 'submitted', :status, false, :api_client_id, CAST(:event_data AS jsonb)
        FROM new
    )
    SELECT id FROM new
    """
)


def _existing_for_key(session: Session, key: str, digest: str) -> Receipt | None:
    row = session.execute(
        select(Report.id, Report.reference, Report.status, Report.request_fingerprint).where(
            Report.idempotency_key == key
        )
    ).first()
    if row is None:
        return None
    if row.request_fingerprint != digest:
        raise Conflict("this Idempotency-Key was already used for a different report")
    return Receipt(row.id, row.reference, row.status)


def _category_errors(session: Session, submission: ReportSubmission) -> dict[str, str]:
    category = session.scalar(select(Category).where(Category.slug == submission.category))
    if category is None:
        return {"category": f"unknown category {submission.category!r}"}
    if bad := invalid_reasons(category.slug, submission.reasons):
        return {"reasons": f"not a reason for {category.name.lower()}: {', '.join(bad)}"}
    return {}


def receive_report(
    session: Session,
    submission: ReportSubmission,
    *,
    places: Places,
    source: str = "web",
    idempotency_key: str | None = None,
    place_now: bool = False,
    client: ApiClient | None = None,
    attribution: dict[str, Any] | None = None,
) -> tuple[Receipt, bool]:
    """Store a new report as ``received`` and return its receipt with whether it was created.

    The same idempotency key with the same submission returns the first report. With
    ``place_now`` a street or place must be placed at once (see ``_place_submission``). A report
    made with an API key records its ``client``; ``attribution`` (device or account ids) goes
    on the ``submitted`` event. The caller commits, then enqueues processing: never before the
    row exists.
    """
    digest = fingerprint(submission)
    point, postcode, errors = _place_submission(submission, places, place_now=place_now)
    if errors or invalid_reasons(submission.category, submission.reasons):
        raise InvalidInput({**_category_errors(session, submission), **errors})
    data = dict(attribution or {})
    if client is not None:
        data.update(api_client=client.name, partner=client.partner.slug if client.partner else None)
    listed = abuse.listed_entry(session, submission.contact_email)
    values = {
        "category": submission.category,
        "description": submission.description,
        "lon": point.x if point is not None else None,
        "lat": point.y if point is not None else None,
        "location_text": submission.location_text,
        "postcode": postcode,
        "reasons": list(dict.fromkeys(submission.reasons)),
        "occurred_at": submission.occurred_at,
        "after_dark": is_after_dark(submission.occurred_at or datetime.now(UTC)),
        "anonymous": submission.anonymous,
        "contact_email": str(submission.contact_email) if submission.contact_email else None,
        "contact_name": submission.contact_name,
        "contact_phone": submission.contact_phone,
        "media_url": str(submission.media_url) if submission.media_url else None,
        "status": ReportStatus.RECEIVED.value,
        "source": source,
        "idempotency_key": idempotency_key or None,
        "fingerprint": digest,
        "api_client_id": client.id if client else None,
        "event_data": json.dumps(data),
    }
    for _ in range(5):
        reference = new_reference()
        report_id = session.scalar(_RECEIVE, {**values, "reference": reference})
        if report_id is not None:
            break
        if idempotency_key and (existing := _existing_for_key(session, idempotency_key, digest)):
            return existing, False  # a retry, or a concurrent one that won the race
        if errors := _category_errors(session, submission):
            raise InvalidInput(errors)
    else:  # pragma: no cover - 5 collisions in a 24-million space
        raise RuntimeError("could not allocate a unique report reference")
    receipt = Receipt(report_id, reference, ReportStatus.RECEIVED)
    if listed is not None:
        abuse.hold(session, session.get_one(Report, report_id), listed)
        receipt = replace(receipt, status=ReportStatus.HELD)
    return receipt, True


def submit_report(
    session: Session, submission: ReportSubmission, *, places: Places, **options: Any
) -> tuple[Report, bool]:
    """``receive_report``, returning the stored report itself for callers that go on with it."""
    receipt, created = receive_report(session, submission, places=places, **options)
    return session.get_one(Report, receipt.id), created


def get_report(session: Session, reference: str) -> Report:
    """The report with this public reference, or ``NotFound``."""
    report = session.scalar(select(Report).where(Report.reference == reference.strip().upper()))
    if report is None:
        raise NotFound(f"no report with reference {reference!r}")
    return report


def _confident(candidates: list[Candidate]) -> Candidate | None:
    """The one candidate we may use without asking a person, if there is one."""
    if candidates and candidates[0].confidence >= CONFIDENT and not is_ambiguous(candidates):
        return candidates[0]
    return None


@dataclass(frozen=True)
class WardRef:
    """A ward as routing records it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class RoutingData:
    """What routing reads besides the report: the rules, the active wards' names, the named
    areas and the service levels, at one ``version`` (see ``RoutingDataCache``)."""

    version: int
    table: routing.RoutingTable
    wards: dict[str, WardRef]
    areas: tuple[tuple[routing.AreaRef, PreparedGeometry], ...]
    service_levels: sla.ServiceLevels

    @classmethod
    def load(cls, session: Session) -> RoutingData:
        """The routing data as it stands now."""
        wards: dict[str, WardRef] = {}
        for ward_id, code, name in session.execute(
            select(Ward.id, Ward.code, Ward.name).where(Ward.active).order_by(Ward.id)
        ):
            wards.setdefault(code, WardRef(ward_id, code, name))
        areas = tuple(
            (routing.AreaRef(area.slug, area.name), prep(to_shape(area.geom)))
            for area in session.scalars(select(Area).order_by(Area.id))
        )
        return cls(
            routing_data_version(session),
            routing.RoutingTable(routing.active_rules(session)),
            wards,
            areas,
            sla.ServiceLevels.load(session),
        )

    def areas_at(self, point: Point) -> list[routing.AreaRef]:
        """The named areas (town centres, estates) whose boundary covers a point."""
        return [area for area, shape in self.areas if shape.covers(point)]


def routing_data_version(session: Session) -> int:
    """The number triggers raise whenever anything ``RoutingData`` holds changes."""
    return session.execute(select(RoutingDataVersion.version)).scalar_one()


class RoutingDataCache:
    """``RoutingData`` kept between batches by a worker process, reloaded when it changed.

    Asking costs one small query; the whole load (a few milliseconds) happens only after a
    rule, ward, area, partner, service level or category changed, however it was changed.
    """

    def __init__(self) -> None:
        self._data: RoutingData | None = None

    def current(self, session: Session) -> RoutingData:
        """The routing data as it stands in this session's transaction."""
        if self._data is None or self._data.version != routing_data_version(session):
            self._data = RoutingData.load(session)
        return self._data


def _needs_location(
    session: Session, report: Report, candidates: list[Candidate], data: RoutingData
) -> ReportEvent:
    """Text we cannot place goes to the fallback triage partner to locate: never lost."""
    fallback = routing.fallback_partner(data.table.rules)
    if candidates:
        found = "; ".join(c.label for c in candidates[:3])
        why = f"it could be several places ({found})"
    else:
        why = "it matches no Lewisham postcode, street or place"
    reason = (
        f"We could not place “{report.location_text}” on the map: {why}. "
        f"{fallback.name} will locate it and route it."
    )
    report.owner_partner_id = fallback.id
    report.routing_reason = reason
    report.status = ReportStatus.NEEDS_LOCATION
    report.routed_at = datetime.now(UTC)
    event = ReportEvent(
        report_id=report.id,
        kind="needs_location",
        from_status=ReportStatus.RECEIVED,
        to_status=ReportStatus.NEEDS_LOCATION,
        note=reason,
        data={"owner": fallback.slug, "candidates": [c.label for c in candidates[:5]]},
    )
    session.add(event)
    logger.info("Report %s needs a location", report.reference)
    return event


def process_reports(
    session: Session,
    report_ids: Sequence[int],
    wards: WardIndex,
    places: Places,
    routing_data: RoutingDataCache | None = None,
    *,
    also_waiting: int = 0,
) -> list[int]:
    """Place, ward and route those of the reports still ``received``; return the ids handled.

    With ``also_waiting``, up to that many other ``received`` reports that no one holds join
    the batch: under load, one task routes what has queued up behind it, and the tasks for
    those reports later find nothing to do.

    Idempotent and safe to run concurrently: the rows are locked in id order, so a second
    delivery of the same reports waits for the first and then finds them routed; a redelivered
    or re-enqueued task changes nothing the second time.
    """
    received = select(Report).where(Report.status == ReportStatus.RECEIVED).order_by(Report.id)
    batch = list(
        session.scalars(received.where(Report.id.in_(report_ids)).with_for_update(of=Report))
    )
    if also_waiting:
        batch += session.scalars(
            received.where(Report.id.not_in(report_ids))
            .limit(also_waiting)
            .with_for_update(of=Report, skip_locked=True)
        )
    if not batch:
        return []
    data = (routing_data or RoutingDataCache()).current(session)
    events = [_process(session, report, wards, places, data) for report in batch]
    session.flush()
    # The partners' emails join the outbox in this transaction; the worker sends them after.
    notifications.reports_routed(
        session,
        [
            (report, event)
            for report, event in zip(batch, events, strict=True)
            if event.kind == "routed"
        ],
    )
    return [report.id for report in batch]


def process_report(session: Session, report_id: int, wards: WardIndex, places: Places) -> bool:
    """``process_reports`` for one report; False when there was nothing to do."""
    return bool(process_reports(session, [report_id], wards, places))


def _process(
    session: Session, report: Report, wards: WardIndex, places: Places, data: RoutingData
) -> ReportEvent:
    if report.location is None:
        candidates = places.geocoder.search(report.location_text or "")
        best = _confident(candidates)
        if best is None:
            return _needs_location(session, report, candidates, data)
        report.location = from_shape(Point(best.lon, best.lat), srid=4326)
        session.add(
            ReportEvent(
                report_id=report.id,
                kind="geocoded",
                note=f"Placed “{report.location_text}” at {best.label}",
                data={"kind": best.kind, "confidence": best.confidence},
            )
        )
    _decision, event = _route(session, report, wards, places, data)
    return event


def routing_time(report: Report) -> datetime:
    """The moment time-of-day rules look at: when it happened, else when it was received."""
    return report.occurred_at or report.created_at or datetime.now(UTC)


def route_report(
    session: Session,
    report: Report,
    wards: WardIndex,
    places: Places,
    *,
    actor: User | None = None,
) -> routing.RoutingDecision:
    """Route a report that has a point: street, ward and areas, then the rules; with why.

    The one routing path: the worker takes it for new reports (in batches), a partner's
    "locate" for reports that needed a location. It replaces the owner and the notified
    partners, and queues the owner's email.
    """
    decision, event = _route(session, report, wards, places, RoutingData.load(session), actor)
    session.flush()
    notifications.report_routed(session, report, event)
    return decision


def _route(
    session: Session,
    report: Report,
    wards: WardIndex,
    places: Places,
    data: RoutingData,
    actor: User | None = None,
) -> tuple[routing.RoutingDecision, ReportEvent]:
    from_status = report.status
    point = to_shape(report.location)
    nearest = places.geocoder.reverse(point.x, point.y)
    report.street = nearest.street
    report.street_distance_m = nearest.street_distance_m
    report.postcode = report.postcode or nearest.postcode
    ward_shape = wards.ward_for_point(point.x, point.y)
    ward = data.wards.get(ward_shape.code) if ward_shape is not None else None
    areas = data.areas_at(point)
    decision = data.table.decide(
        category=report.category.slug,
        category_name=report.category.name,
        place=routing.Place(
            ward_code=ward.code if ward else None,
            ward_name=ward.name if ward else None,
            areas=tuple(areas),
        ),
        at=routing.local_time(routing_time(report)),
        reasons=report.reasons or (),
    )
    now = datetime.now(UTC)
    report.ward_id = ward.id if ward else None
    report.owner_partner_id = decision.owner.id
    report.rule_owner_id = decision.owner.id
    report.routing_reason = decision.reason
    report.status = ReportStatus.ROUTED
    report.routed_at = now
    report.acknowledge_due_at, report.resolve_due_at = data.service_levels.due_times(
        decision.owner.id, report.category_id, now
    )
    if from_status is not ReportStatus.RECEIVED:
        # Re-routing a located report: the notified partners are decided afresh.
        session.execute(
            delete(ReportNotifiedPartner).where(ReportNotifiedPartner.report_id == report.id)
        )
    for partner in decision.notified:
        session.add(ReportNotifiedPartner(report_id=report.id, partner_id=partner.id))
    event = ReportEvent(
        report_id=report.id,
        actor_id=actor.id if actor else None,
        kind="routed",
        from_status=from_status,
        to_status=ReportStatus.ROUTED,
        note=decision.reason,
        public=True,
        data={
            "ward": ward.code if ward else None,
            "areas": [a.slug for a in areas],
            "owner": decision.owner.slug,
            "notified": [p.slug for p in decision.notified],
            "rule_ids": list(decision.rule_ids),
            "rules": [m.as_json() for m in decision.matched],
        },
    )
    session.add(event)
    session.expire(report, ["notified", "owner", "ward"])
    logger.info("Routed report %s to %s", report.reference, decision.owner.slug)
    return decision, event


NEARBY_STATUSES = (ReportStatus.ROUTED, ReportStatus.ACKNOWLEDGED, ReportStatus.IN_PROGRESS)


def nearby_open_reports_query(
    *,
    lon: float,
    lat: float,
    category_id: int | None = None,
    radius_m: float = 50,
    days: int = 30,
    limit: int = 10,
) -> Select[tuple[Report]]:
    """Open reports within ``radius_m`` metres from the last ``days`` days, nearest first.

    Written against the expression index ``(location::geography)`` so it stays fast with
    millions of reports.
    """
    here = cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography)
    location = literal_column("report.location::geography")
    query = (
        select(Report)
        .where(
            func.ST_DWithin(location, here, radius_m),
            Report.status.in_(NEARBY_STATUSES),
            Report.created_at > func.now() - func.make_interval(0, 0, 0, days),
        )
        .order_by(func.ST_Distance(location, here), Report.id)
        .limit(limit)
    )
    if category_id is not None:
        query = query.where(Report.category_id == category_id)
    return query


def nearby_open_reports(session: Session, **criteria: Any) -> list[Report]:
    """Run ``nearby_open_reports_query`` with the same keyword criteria."""
    return list(session.scalars(nearby_open_reports_query(**criteria)))


def stale_received_ids(session: Session, older_than_seconds: int, limit: int = 1000) -> list[int]:
    """Reports still ``received`` after a while: the queue may have lost them."""
    cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than_seconds)
    return list(
        session.scalars(
            select(Report.id)
            .where(Report.status == ReportStatus.RECEIVED, Report.created_at < cutoff)
            .order_by(Report.id)
            .limit(limit)
        )
    )
