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
    StringConstraints,
    ValidationError,
    field_validator,
)
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.coordinates import PointRejected, check_point
from geo.wards import Borough, WardIndex
from safer_streets import notifications, routing, sla
from safer_streets.errors import Conflict, InvalidInput, NotFound
from safer_streets.models import (
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

Description = Annotated[str, StringConstraints(strip_whitespace=True)]


class ReportSubmission(BaseModel):
    """What a resident or client sends to report a problem; validated before anything is stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(description="Category slug, e.g. `drug-dealing`.", max_length=80)
    lat: float = Field(description="Latitude (WGS84).", allow_inf_nan=False)
    lon: float = Field(description="Longitude (WGS84).", allow_inf_nan=False)
    description: Description = Field(
        description="What is wrong, in the reporter's words.", min_length=1
    )
    occurred_at: datetime | None = Field(
        default=None, description="When it happened (ISO 8601 with time zone)."
    )
    anonymous: bool = Field(default=True, description="Keep the reporter's identity private.")
    contact_email: EmailStr | None = Field(
        default=None, description="Where to send updates; never shown publicly."
    )

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
    "value_error": None,
}


def field_errors(error: ValidationError) -> dict[str, str]:
    """Turn a pydantic error into one plain message per field."""
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = _PYDANTIC_MESSAGES.get(item["type"], item["msg"])
        if message is None:
            message = item["msg"].removeprefix("Value error, ")
        if field == "contact_email" and item["type"] == "value_error":
            message = "must be a valid email address"
        errors.setdefault(field, message)
    return errors


def parse_submission(data: Any) -> ReportSubmission:
    """Validate raw input (a JSON object or form fields) or raise ``InvalidInput``."""
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    try:
        return ReportSubmission.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None


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


def submit_report(
    session: Session,
    submission: ReportSubmission,
    *,
    borough: Borough,
    source: str = "web",
    idempotency_key: str | None = None,
) -> tuple[Report, bool]:
    """Store a new report as ``received`` and return it with whether it was created.

    The same idempotency key with the same submission returns the first report.
    The caller commits, then enqueues processing: never before the row exists.
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
    try:
        check_point(submission.lat, submission.lon, borough)
    except PointRejected as rejected:
        errors[rejected.field] = rejected.message
    if errors:
        raise InvalidInput(errors)

    report = Report(
        category=category,
        description=submission.description,
        location=from_shape(Point(submission.lon, submission.lat), srid=4326),
        occurred_at=submission.occurred_at,
        anonymous=submission.anonymous,
        contact_email=str(submission.contact_email) if submission.contact_email else None,
        status=ReportStatus.RECEIVED,
        source=source,
        idempotency_key=idempotency_key or None,
        request_fingerprint=digest,
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
    session.add(ReportEvent(report_id=report.id, kind="submitted", to_status=ReportStatus.RECEIVED))
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
    report.acknowledge_due_at, report.resolve_due_at = sla.due_times(
        session, decision.owner.id, report.category_id, now
    )
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
    # The partner's email joins the outbox in this transaction; the worker sends it after.
    notifications.report_routed(session, report)
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
