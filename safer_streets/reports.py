"""Submitting a report and processing it: the heart of the intake flow."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from geoalchemy2.shape import from_shape, to_shape
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.coordinates import PointRejected, check_point
from geo.gazetteer import (
    Candidate,
    Gazetteer,
    OutsideBorough,
    default_gazetteer,
    is_ambiguous,
    normalise_postcode,
    outward_code,
)
from geo.wards import Borough, WardIndex
from safer_streets import routing, taxonomy
from safer_streets.errors import Conflict, InvalidInput, NotFound
from safer_streets.models import (
    ApiClient,
    Category,
    Report,
    ReportEvent,
    ReportNotifiedPartner,
    ReportStatus,
    Ward,
)

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L or U: references are read aloud over the phone and typed on small keyboards.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "LEW-"
MAX_DESCRIPTION_CHARS = 4000

MAX_ADDRESS_CHARS = 200
MAX_REASONS = 20
# A gazetteer answer below this confidence is a guess; a report needs a place we are sure of.
CONFIDENT_PLACE = 0.9

Description = Annotated[str, StringConstraints(strip_whitespace=True)]
ReasonKey = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")
]


def _coordinate(axis: str, limit: float) -> Any:
    """An optional finite coordinate (an address may be given instead), documented as a number."""
    schema = {
        "type": "number",
        "minimum": -limit,
        "maximum": limit,
        "description": f"{axis} (WGS84); required unless `address` is given.",
    }
    return Annotated[Annotated[float, Field(allow_inf_nan=False)] | None, WithJsonSchema(schema)]


def _without_default(schema: dict[str, Any]) -> None:
    # Absent is allowed but null is not, so the documented schema has no null default.
    schema.pop("default", None)


Latitude = _coordinate("Latitude", 90)
Longitude = _coordinate("Longitude", 180)


class ReportSubmission(BaseModel):
    """What a resident or client sends to report a problem; validated before anything is stored.

    The place is a point (``lat`` and ``lon``) or, failing that, an ``address`` found in the
    Lewisham gazetteer. A description is needed unless ``reasons`` say what is wrong.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(description="Category slug, e.g. `drug-dealing`.", max_length=80)
    # Never an explicit null, though: the schema says "number" and a null is a client bug.
    lat: Latitude = Field(default=None, json_schema_extra=_without_default)
    lon: Longitude = Field(default=None, json_schema_extra=_without_default)
    address: str | None = Field(
        default=None,
        max_length=MAX_ADDRESS_CHARS,
        description=(
            "A Lewisham postcode, street or place (e.g. `SE6 4JU`, `Catford Broadway`), used "
            "when `lat` and `lon` are not given. Text that matches several places is refused."
        ),
    )
    description: Description = Field(
        default="",
        json_schema_extra={"maxLength": MAX_DESCRIPTION_CHARS},
        description=(
            "What is wrong, in the reporter's words (at most 4,000 characters). "
            "Required unless `reasons` are given."
        ),
    )
    reasons: list[ReasonKey] = Field(
        default_factory=list,
        max_length=MAX_REASONS,
        description=(
            "Reason keys for categories that have them (see `reasons` in `/api/v1/categories`), "
            "e.g. `badly-lit` for `feeling-unsafe`."
        ),
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
        "category", "address", "description", "reasons", "contact_name", "contact_phone"
    )
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail on insert.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("lat", "lon", mode="before")
    @classmethod
    def _no_explicit_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must be a number")
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

    @property
    def has_point(self) -> bool:
        """True when the client gave coordinates rather than only an address."""
        return self.lat is not None and self.lon is not None


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
    "too_long": f"must have at most {MAX_REASONS} items",
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


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _missing_alternatives(data: dict[str, Any]) -> dict[str, str]:
    """Fields needed only when their alternative is absent: a point or an address; a
    description or reasons. Checked on the raw input so they are named alongside any other
    bad field, in one answer."""
    errors: dict[str, str] = {}
    if _blank(data.get("address")):
        for field in ("lat", "lon"):
            if field not in data:
                errors[field] = "is required (or give an address)"
    if _blank(data.get("description")) and not data.get("reasons"):
        errors["description"] = (
            "must not be empty" if "description" in data else "is required (or choose reasons)"
        )
    return errors


def parse_submission(data: Any) -> ReportSubmission:
    """Validate raw input (a JSON object or form fields) or raise ``InvalidInput``."""
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    errors = _missing_alternatives(data)
    try:
        submission = ReportSubmission.model_validate(data)
    except ValidationError as error:
        raise InvalidInput({**errors, **field_errors(error)}) from None
    if errors:
        raise InvalidInput(errors)
    return submission


def fingerprint(submission: ReportSubmission) -> str:
    """A stable hash of a submission, to tell a retry from a different request."""
    payload = json.dumps(submission.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def new_reference() -> str:
    """A short, unambiguous public reference such as ``LEW-7K3Q9``."""
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(5))


def _existing_for_key(session: Session, key: str, digest: str) -> Report | None:
    report = session.scalar(select(Report).where(Report.idempotency_key == key))
    if report is not None and report.request_fingerprint != digest:
        raise Conflict("this Idempotency-Key was already used for a different report")
    return report


def locate_address(gazetteer: Gazetteer, text: str) -> Candidate:
    """The one Lewisham place ``text`` names, or ``InvalidInput`` on ``address`` saying why not.

    Refuses text that is unknown, outside Lewisham (naming the council to go to instead), too
    vague (a postcode district, a town centre) or ambiguous (two streets of one name).
    """
    text = text.strip()
    postcode = normalise_postcode(text)
    if postcode is not None:
        found = gazetteer.lookup_postcode(postcode)
        if found is not None:
            return found
        raise InvalidInput({"address": _outside_message(gazetteer, postcode)})
    candidates = gazetteer.search(text, limit=5)
    if not candidates:
        outward = outward_code(text)
        if outward is not None and outward not in gazetteer.districts:
            raise InvalidInput({"address": _outside_message(gazetteer, outward)})
        raise InvalidInput(
            {"address": f"could not find {text!r} in Lewisham: give a postcode, street or point"}
        )
    if is_ambiguous(candidates):
        options = "; ".join(c.label for c in candidates[:3])
        raise InvalidInput(
            {"address": f"{text!r} could be several places ({options}): give a postcode or point"}
        )
    best = candidates[0]
    if best.confidence < CONFIDENT_PLACE:
        raise InvalidInput(
            {
                "address": f"{text!r} is not precise enough (nearest: {best.label}): "
                "give a full postcode, a street name or the point"
            }
        )
    return best


def _outside_message(gazetteer: Gazetteer, postcode: str) -> str:
    council = OutsideBorough.from_gazetteer(gazetteer).where_to_report(postcode)
    if council is not None:
        return f"{postcode} is outside Lewisham: please report it to {council} council"
    return f"{postcode} is not a Lewisham postcode"


def submit_report(
    session: Session,
    submission: ReportSubmission,
    *,
    borough: Borough,
    source: str = "web",
    idempotency_key: str | None = None,
    gazetteer: Gazetteer | None = None,
    client: ApiClient | None = None,
    attribution: dict[str, Any] | None = None,
) -> tuple[Report, bool]:
    """Store a new report as ``received`` and return it with whether it was created.

    The same idempotency key with the same submission returns the first report. An address
    without a point is placed with the gazetteer (the shipped one unless given). A report made
    with an API key records its ``client``; ``attribution`` (device or account ids) goes on the
    ``submitted`` event. The caller commits, then enqueues processing: never before the row
    exists.
    """
    digest = fingerprint(submission)
    if idempotency_key:
        existing = _existing_for_key(session, idempotency_key, digest)
        if existing is not None:
            return existing, False

    errors: dict[str, str] = {}
    category = session.scalar(select(Category).where(Category.slug == submission.category))
    if category is None:
        errors["category"] = f"unknown category {submission.category!r}"
    else:
        problem = taxonomy.check_reasons(category.slug, submission.reasons)
        if problem is not None:
            errors["reasons"] = problem
    lat, lon = submission.lat, submission.lon
    location_text = submission.address
    postcode = None
    if not submission.has_point:
        try:
            place = locate_address(gazetteer or default_gazetteer(), submission.address or "")
        except InvalidInput as unplaced:
            errors.update(unplaced.field_errors)
        else:
            lat, lon, location_text = place.lat, place.lon, place.label
            postcode = place.label if place.kind == "postcode" else None
    if lat is not None and lon is not None:
        try:
            check_point(lat, lon, borough)
        except PointRejected as rejected:
            errors[rejected.field] = rejected.message
    if errors:
        raise InvalidInput(errors)

    report = Report(
        category=category,
        description=submission.description,
        location=from_shape(Point(lon, lat), srid=4326),
        location_text=location_text,
        postcode=postcode,
        reasons=taxonomy.ordered_reasons(category.slug, submission.reasons),
        occurred_at=submission.occurred_at,
        anonymous=submission.anonymous,
        contact_email=str(submission.contact_email) if submission.contact_email else None,
        contact_name=submission.contact_name,
        contact_phone=submission.contact_phone,
        media_url=str(submission.media_url) if submission.media_url else None,
        status=ReportStatus.RECEIVED,
        source=source,
        idempotency_key=idempotency_key or None,
        request_fingerprint=digest,
        api_client_id=client.id if client else None,
    )
    for _ in range(5):
        report.reference = new_reference()
        try:
            with session.begin_nested():
                session.add(report)
                session.flush()
            break
        except IntegrityError:
            if idempotency_key:
                existing = _existing_for_key(session, idempotency_key, digest)
                if existing is not None:
                    # A concurrent retry with the same key won the race.
                    return existing, False
    else:  # pragma: no cover - 5 collisions in a 24-million space
        raise RuntimeError("could not allocate a unique report reference")
    data = dict(attribution or {})
    if client is not None:
        data.update(api_client=client.name, partner=client.partner.slug if client.partner else None)
    session.add(
        ReportEvent(
            report_id=report.id,
            kind="submitted",
            to_status=ReportStatus.RECEIVED,
            api_client_id=client.id if client else None,
            data=data,
        )
    )
    session.flush()
    return report, True


def get_report(session: Session, reference: str) -> Report:
    """The report with this public reference, or ``NotFound``."""
    report = session.scalar(select(Report).where(Report.reference == reference.strip().upper()))
    if report is None:
        raise NotFound(f"no report with reference {reference!r}")
    return report


def process_report(session: Session, report_id: int, wards: WardIndex) -> bool:
    """Find the report's ward and route it; return False when there was nothing to do.

    Idempotent: the row is locked and only a ``received`` report is processed, so a
    redelivered or re-enqueued task changes nothing the second time.
    """
    report = session.scalar(select(Report).where(Report.id == report_id).with_for_update(of=Report))
    if report is None or report.status is not ReportStatus.RECEIVED:
        return False
    point = to_shape(report.location)
    ward_shape = wards.ward_for_point(point.x, point.y)
    ward = None
    if ward_shape is not None:
        ward = session.scalar(
            select(Ward).where(Ward.code == ward_shape.code, Ward.active).limit(1)
        )
    decision = routing.decide(
        routing.rules_for(session, report.category, ward),
        category=report.category.slug,
        category_name=report.category.name,
        place=routing.Place(
            ward_code=ward.code if ward else None, ward_name=ward.name if ward else None
        ),
    )
    now = datetime.now(UTC)
    report.ward_id = ward.id if ward else None
    report.owner_partner_id = decision.owner.id
    report.routing_reason = decision.reason
    report.status = ReportStatus.ROUTED
    report.routed_at = now
    for partner in decision.notified:
        session.add(ReportNotifiedPartner(report_id=report.id, partner_id=partner.id))
    session.add(
        ReportEvent(
            report_id=report.id,
            kind="routed",
            from_status=ReportStatus.RECEIVED,
            to_status=ReportStatus.ROUTED,
            note=decision.reason,
            public=True,
            data={
                "ward": ward.code if ward else None,
                "owner": decision.owner.slug,
                "notified": [p.slug for p in decision.notified],
                "rule_ids": list(decision.rule_ids),
            },
        )
    )
    session.flush()
    logger.info("Routed report %s to %s", report.reference, decision.owner.slug)
    return True


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
