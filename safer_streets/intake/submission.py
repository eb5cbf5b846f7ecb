"""Submitting a report: validation, placing what can be placed at once, and the one statement
that stores it with its first event."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
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
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from geo.coordinates import PointRejected, check_point
from geo.gazetteer import Candidate, is_ambiguous
from geo.postcodes import normalise_postcode, outward_code
from geo.suntimes import is_after_dark
from safer_streets import taxonomy
from safer_streets.bounds import stated_occurred_at
from safer_streets.errors import Conflict, InvalidInput, NotFound, plain_field_errors
from safer_streets.intake import abuse
from safer_streets.models import (
    ApiClient,
    Category,
    PlacedFrom,
    Report,
    ReportStatus,
)
from safer_streets.places import Places, confident_match, placement_of, store_extent

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L or U: references are read aloud over the phone and typed on small keyboards.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "LEW-"
MAX_DESCRIPTION_CHARS = 4000

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
    occurred_at: Annotated[datetime | None, AfterValidator(stated_occurred_at)] = Field(
        default=None,
        description=(
            "When it happened (ISO 8601 with time zone), from 2000-01-01 to a few minutes from now."
        ),
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
        errors = plain_field_errors(
            error, _PYDANTIC_MESSAGES, whole="body", field_messages=_FIELD_MESSAGES
        )
    for field, message in _location_errors(data).items():
        errors.setdefault(field, message)
    if errors:
        raise InvalidInput(errors)
    return submission


Placed = tuple[Point | None, str | None, dict[str, str], Candidate | None]


def _place_submission(
    submission: ReportSubmission, places: Places, *, place_now: bool = False
) -> Placed:
    """The point to store (None when the worker must place text), its postcode, any location
    errors, and the gazetteer candidate the point is when it was placed from text.

    With ``place_now`` a street or place is placed here and now, and text that matches nothing
    or several places is refused instead of being left for the worker and triage.
    """
    if submission.lat is not None and submission.lon is not None:
        try:
            check_point(submission.lat, submission.lon, places.borough)
        except PointRejected as rejected:
            return None, None, {rejected.field: rejected.message}, None
        return Point(submission.lon, submission.lat), None, {}, None
    text = submission.location_text or ""
    postcode = normalise_postcode(text)
    if postcode is None:
        if place_now:
            return _place_text_now(text, places)
        return None, None, {}, None  # a street or place: the worker geocodes it
    found = places.gazetteer.lookup_postcode(postcode)
    if found is not None:
        return Point(found.lon, found.lat), postcode, {}, found
    where = places.outside.where_to_report(postcode)
    if where:
        message = f"{postcode} is outside Lewisham, in {where}: please report it to that council"
    else:
        message = (
            f"{postcode} is not a Lewisham postcode: check it, or report to the council "
            "for that area"
        )
    return None, None, {"location_text": message}, None


def _place_text_now(text: str, places: Places) -> Placed:
    candidates = places.geocoder.search(text)
    best = confident_match(candidates)
    if best is not None:
        return Point(best.lon, best.lat), None, {}, best
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
    return None, None, {"location_text": message}, None


def submission_point(submission: ReportSubmission, places: Places) -> tuple[float, float] | None:
    """The (lon, lat) a submission will be stored at, when known before the worker runs."""
    point, _postcode, errors, _found = _place_submission(submission, places)
    return None if point is None or errors else (point.x, point.y)


def likely_point(submission: ReportSubmission, places: Places) -> tuple[float, float] | None:
    """Where a submission will be, as far as can be told now: its point, else the one place
    its typed street or place confidently matches (where the worker will put it), else None.

    For the "has this already been reported?" check, which a typed street needs as much as
    a pin: reports typed as the same street are all stored at its gazetteer point.
    """
    point = submission_point(submission, places)
    if point is not None or not submission.location_text:
        return point
    best = confident_match(places.geocoder.search(submission.location_text))
    return None if best is None else (best.lon, best.lat)


def _how_placed(
    session: Session | Connection,
    submission: ReportSubmission,
    placed: Placed,
    places: Places,
    point_from: PlacedFrom | None,
) -> tuple[PlacedFrom | None, int | None]:
    """``placed_from`` and ``place_extent_id`` for a report stored with this placement; none
    when the worker is to place its text.

    A point comes from a pin unless the form says otherwise: the device's location, or a
    suggested place picked from the list, which is that place's gazetteer point, so the
    report is placed from text and keeps the place's extent.
    """
    point, _postcode, _errors, found = placed
    if point is None:
        return None, None
    if found is None and point_from is PlacedFrom.TYPED_PLACE and submission.location_text:
        best = confident_match(places.geocoder.search(submission.location_text))
        if best is not None and (best.lon, best.lat) == (point.x, point.y):
            found = best
    if found is None:
        device = point_from is PlacedFrom.DEVICE
        return (PlacedFrom.DEVICE if device else PlacedFrom.PIN), None
    placement = placement_of(places, found)
    return placement.placed_from, store_extent(session, placement)


def fingerprint(submission: ReportSubmission) -> str:
    """A stable hash of a submission, to tell a retry from a different request."""
    payload = json.dumps(submission.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


MAX_IDEMPOTENCY_KEY_CHARS = 200


def parse_idempotency_key(raw: str | None) -> str | None:
    """An Idempotency-Key header as sent (surrounding spaces ignored), None when absent or
    blank, or ``InvalidInput`` naming the header when it is too long."""
    key = (raw or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        message = f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        raise InvalidInput({"Idempotency-Key": message})
    return key or None


def scoped_idempotency_key(key: str, *, channel: str, client: ApiClient | None) -> str:
    """An idempotency key as stored: in the space of whoever sent it, so that nobody who
    learns or guesses another client's key is handed that client's report.

    A client whose API key verified has a space of its own; requests without one share their
    channel's anonymous space, where a replay must also repeat the body (``receive_report``
    compares fingerprints). The key is stored hashed: any key the header allows fits the column
    with its space, and the key itself is not kept.
    """
    owner = f"client-{client.id}" if client is not None else "anonymous"
    return f"{channel}:{owner}:{hashlib.sha256(key.encode()).hexdigest()}"


def new_reference() -> str:
    """A short, unambiguous public reference such as ``LEW-7K3Q9``."""
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(5))


@dataclass(frozen=True)
class Receipt:
    """What a resident or client is told at once: the report's id, reference and state."""

    id: int
    reference: str
    status: ReportStatus


# One round trip stores the report and its first event, and holds it at once (a second event)
# when the reporter's email or its domain is on the abuse list. ON CONFLICT DO NOTHING covers a
# taken reference and a concurrent retry with the same idempotency key alike: no row comes back
# and the caller finds out which; an unknown category also inserts nothing (no row to select).
# In the driver's own parameter style, run with ``exec_driver_sql``: on the busiest write path,
# SQLAlchemy's processing of a compiled statement's two dozen parameters took more CPU than
# psycopg's execution of the statement (bench/profiles/intake-before.txt).
_RECEIVE = """
    WITH listed AS (
        SELECT id, value FROM abuse_entry
        WHERE value IN (%(listed_email)s, %(listed_domain)s) LIMIT 1
    ), new AS (
        INSERT INTO report (
            reference, category_id, description, location, location_text, postcode,
            placed_from, place_extent_id, reasons,
            occurred_at, after_dark, anonymous, contact_email, contact_name, contact_phone,
            media_url, status, source, idempotency_key, request_fingerprint, api_client_id,
            supporter_count, priority, version_id)
        SELECT %(reference)s, category.id, %(description)s,
               ST_SetSRID(ST_MakePoint(CAST(%(lon)s AS float8), CAST(%(lat)s AS float8)), 4326),
               %(location_text)s, %(postcode)s, %(placed_from)s,
               CAST(%(place_extent_id)s AS integer),
               CAST(%(reasons)s AS varchar(40)[]), %(occurred_at)s,
               %(after_dark)s, %(anonymous)s,
               %(contact_email)s, %(contact_name)s, %(contact_phone)s,
               %(media_url)s,
               CASE WHEN EXISTS (SELECT FROM listed) THEN %(held)s ELSE %(status)s END,
               %(source)s, %(idempotency_key)s, %(fingerprint)s, %(api_client_id)s, 0, 'normal', 1
        FROM category WHERE category.slug = %(category)s
        ON CONFLICT DO NOTHING
        RETURNING id, status
    ), events AS (
        INSERT INTO report_event (
            report_id, kind, from_status, to_status, public, api_client_id, data, note)
        SELECT id, 'submitted', NULL, %(status)s, false, %(api_client_id)s,
               CAST(%(event_data)s AS jsonb), NULL
        FROM new
        UNION ALL
        SELECT new.id, 'held', %(status)s, %(held)s, false, NULL,
               jsonb_build_object('abuse_entry', listed.id),
               'Held for review: the reporter''s address matches the abuse list ('
               || listed.value || ').'
        FROM new CROSS JOIN listed
    )
    SELECT id, status FROM new
    """


def _existing_for_key(
    session: Session | Connection, key: str, digest: str, client: ApiClient | None
) -> Receipt | None:
    row = session.execute(
        select(
            Report.id,
            Report.reference,
            Report.status,
            Report.request_fingerprint,
            Report.api_client_id,
        ).where(Report.idempotency_key == key)
    ).first()
    if row is None:
        return None
    # A replay returns the first report only to the client that made it, with the same body;
    # keys are scoped by client already (scoped_idempotency_key), and this holds whatever the
    # caller passed.
    same_client = row.api_client_id == (client.id if client is not None else None)
    if not same_client or row.request_fingerprint != digest:
        raise Conflict("this Idempotency-Key was already used for a different report")
    return Receipt(row.id, row.reference, row.status)


def public_categories(session: Session) -> list[Category]:
    """The categories residents and clients may report under, in display order."""
    return list(
        session.scalars(
            select(Category).where(Category.public).order_by(Category.position, Category.id)
        )
    )


def _category_errors(session: Session, submission: ReportSubmission) -> dict[str, str]:
    category = session.scalar(select(Category).where(Category.slug == submission.category))
    if category is None:
        return {"category": f"unknown category {submission.category!r}"}
    if bad := taxonomy.invalid_reasons(session, category.slug, submission.reasons):
        return {"reasons": f"not a reason for {category.name.lower()}: {', '.join(bad)}"}
    return {}


def receive_report(
    session: Session | Connection,
    submission: ReportSubmission,
    *,
    places: Places,
    source: str = "web",
    idempotency_key: str | None = None,
    place_now: bool = False,
    client: ApiClient | None = None,
    attribution: dict[str, Any] | None = None,
    point_from: PlacedFrom | None = None,
) -> tuple[Receipt, bool]:
    """Store a new report as ``received`` and return its receipt with whether it was created.

    The same idempotency key with the same submission from the same client returns the first
    report; callers pass keys that clients send through ``scoped_idempotency_key``. With
    ``place_now`` a street or place must be placed at once (see ``_place_submission``). A report
    made with an API key records its ``client``; ``attribution`` (device or account ids) goes
    on the ``submitted`` event. ``point_from`` says where a given point came from when the
    form knows (see ``_how_placed``). The caller commits, then enqueues processing: never before the
    row exists.
    """
    # Only a key can be replayed, and only a replay is compared with the first body.
    digest = fingerprint(submission) if idempotency_key else None
    placed = _place_submission(submission, places, place_now=place_now)
    point, postcode, errors, _found = placed
    if errors or taxonomy.invalid_reasons(session, submission.category, submission.reasons):
        raise InvalidInput({**_category_errors(_orm(session), submission), **errors})
    placed_from, extent_id = _how_placed(session, submission, placed, places, point_from)
    data = dict(attribution or {})
    if client is not None:
        data.update(api_client=client.name, partner=client.partner.slug if client.partner else None)
    listed = abuse.normalise(str(submission.contact_email)) if submission.contact_email else None
    values = {
        "category": submission.category,
        "description": submission.description,
        "lon": point.x if point is not None else None,
        "lat": point.y if point is not None else None,
        "location_text": submission.location_text,
        "postcode": postcode,
        "placed_from": placed_from.value if placed_from else None,
        "place_extent_id": extent_id,
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
        "held": ReportStatus.HELD.value,
        # Listed by the full address or by its domain.
        "listed_email": listed,
        "listed_domain": listed.rpartition("@")[2] if listed else None,
    }
    connection = session.connection() if isinstance(session, Session) else session
    for _ in range(5):
        reference = new_reference()
        row = connection.exec_driver_sql(_RECEIVE, {**values, "reference": reference}).first()
        if row is not None:
            break
        if (
            idempotency_key
            and digest
            and (existing := _existing_for_key(session, idempotency_key, digest, client))
        ):
            return existing, False  # a retry, or a concurrent one that won the race
        if errors := _category_errors(_orm(session), submission):
            raise InvalidInput(errors)
    else:  # pragma: no cover - 5 collisions in a 24-million space
        raise RuntimeError("could not allocate a unique report reference")
    return Receipt(row.id, reference, ReportStatus(row.status)), True


def _orm(session: Session | Connection) -> Session:
    """A session on the caller's transaction, for the rare path that needs the ORM (a refused
    category), when the report is stored on a plain connection."""
    if isinstance(session, Session):
        return session
    return Session(bind=session, join_transaction_mode="rollback_only")


def submit_report(
    session: Session, submission: ReportSubmission, *, places: Places, **options: Any
) -> tuple[Report, bool]:
    """``receive_report``, returning the stored report itself for callers that go on with it."""
    receipt, created = receive_report(session, submission, places=places, **options)
    return session.get_one(Report, receipt.id), created


def normalise_reference(text: str) -> str:
    """A reference as a resident may type or read it out ("lew 7k3q9", "LEW7K3Q9",
    "LEW–7K3Q9") in the form it is stored ("LEW-7K3Q9"); anything else only upper-cased."""
    compact = "".join(character for character in text.upper() if character.isalnum())
    prefix = REFERENCE_PREFIX.rstrip("-")
    if compact.startswith(prefix) and len(compact) > len(prefix):
        return REFERENCE_PREFIX + compact[len(prefix) :]
    return text.strip().upper()


def get_report(session: Session, reference: str) -> Report:
    """The report with this public reference (however it was typed), or ``NotFound``."""
    report = session.scalar(
        select(Report).where(Report.reference == normalise_reference(reference))
    )
    if report is None:
        raise NotFound(f"no report with reference {reference!r}")
    return report
