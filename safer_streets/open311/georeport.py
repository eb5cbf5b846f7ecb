"""Open311 GeoReport v2 over the Safer Streets domain: Flask-free, one function per resource.

Services are the public categories (``service_code`` is the category slug); a service request is
a report (``service_request_id`` is its public reference). Requests come in through the same
validation as the JSON API (``parse_submission`` and ``submit_report``).

What leaves here is public, and is what the disclosure policy lets the public see
(``safer_streets.disclosure.policy``): reports in categories the public never sees one by one,
and held reports, are neither listed nor found by id; place, time and words are given at the
precision the report's category allows, and date filters match the times as published, so a
narrow window cannot recover a time the document does not show.

Spec: http://wiki.open311.org/GeoReport_v2 (Open311 wiki, frozen v2). Extensions: ``page`` and
``page_size`` (GeoReport/v2/Extensions.md), and mySociety's ``servicerequestupdates``
(https://github.com/mysociety/FixMyStreet/wiki/Open311-FMS---Proposed-differences-to-Open311).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from geo.postcodes import normalise_postcode
from geo.suntimes import LONDON
from safer_streets import taxonomy
from safer_streets.bounds import OutOfBounds, check_filter_datetime, parse_int
from safer_streets.disclosure.policy import Audience, Disclosure, Location, Photo, disclose
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.intake.submission import (
    parse_submission,
    public_categories,
    submit_report,
)
from safer_streets.models import (
    OPEN_STATUSES,
    ApiClient,
    Category,
    Report,
    ReportStatus,
    Ward,
)
from safer_streets.places import Places

logger = logging.getLogger(__name__)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# One jurisdiction is served, so jurisdiction_id is optional; when given it must be this.
JURISDICTION_ID = "lewisham.gov.uk"
# When this service list or these endpoints last changed (discovery ``changeset``).
CHANGESET = "2026-11-24T00:00:00Z"
SERVICE_TYPE = "realtime"
MAX_SPAN = timedelta(days=90)
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
# Past this a page is empty for any honest window, and the offset must stay within bigint.
MAX_PAGE = 100_000
MAX_IDS = 1000
EMERGENCY_NOTICE = (
    "If anyone is in danger now, call 999. This service is not monitored around the clock."
)
REASONS_ATTRIBUTE = "reasons"
# servicerequestupdates: the report a DUPLICATE update duplicates, as mySociety's extension
# passes extra fields (attribute[code]); its value is that report's service_request_id.
DUPLICATE_OF_ATTRIBUTE = "duplicate_of"
# Where a submission field's error is reported in Open311's own parameter names.
_OPEN311_FIELD = {
    "category": "service_code",
    "lon": "long",
    "reasons": f"attribute[{REASONS_ATTRIBUTE}]",
    "contact_email": "email",
    "contact_name": "first_name",
    "contact_phone": "phone",
}

# Internal status → mySociety's extended status (lower case on output).
EXTENDED_STATUS: dict[ReportStatus, str] = {
    ReportStatus.RECEIVED: "open",
    ReportStatus.NEEDS_LOCATION: "open",
    ReportStatus.ROUTED: "open",
    ReportStatus.ACKNOWLEDGED: "investigating",
    ReportStatus.IN_PROGRESS: "in_progress",
    ReportStatus.RESOLVED: "fixed",
    ReportStatus.NOT_ACTIONABLE: "no_further_action",
    ReportStatus.DUPLICATE: "duplicate",
    ReportStatus.REFERRED: "internal_referral",
    ReportStatus.OUT_OF_AREA: "not_councils_responsibility",
    ReportStatus.HELD: "open",
    # Routing failed and an admin will retry it: to the resident, still waiting to be routed.
    ReportStatus.NEEDS_ATTENTION: "open",
}


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

_ATTRIBUTE_RE = re.compile(r"^attribute\[(?P<code>[^\[\]]+)\](?P<multi>\[\])?$")


@dataclass(frozen=True)
class RequestForm:
    """A POST body: the first non-empty value of each plain parameter, and the attributes.

    ``attribute[code]=v`` and ``attribute[code][]=v`` (repeated) both collect into
    ``attributes["code"]`` in the order sent. The spec treats an empty parameter as absent.
    """

    fields: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        """A plain parameter, or None when absent or empty."""
        return self.fields.get(name)


def parse_form(pairs: Iterable[tuple[str, str]]) -> RequestForm:
    """Read form pairs (in order, repeats allowed) into a ``RequestForm``.

    Raises ``InvalidInput`` naming a parameter that starts ``attribute`` but is not
    ``attribute[code]`` or ``attribute[code][]``.
    """
    form = RequestForm()
    for name, value in pairs:
        value = value.strip()
        if "\x00" in value:
            # Nothing here can store NUL (PostgreSQL text and JSON refuse it).
            raise InvalidInput({name: "must not contain NUL characters"})
        if name.startswith("attribute"):
            match = _ATTRIBUTE_RE.match(name)
            if match is None:
                raise InvalidInput(
                    {
                        name: "is not a valid attribute parameter: use attribute[code] or "
                        "attribute[code][]"
                    }
                )
            values = form.attributes.setdefault(match.group("code"), [])
            if value:
                values.append(value)
        elif value and name not in form.fields:
            form.fields[name] = value
    for code in [code for code, values in form.attributes.items() if not values]:
        del form.attributes[code]
    return form


def check_jurisdiction(jurisdiction_id: str | None) -> None:
    """Refuse a jurisdiction other than ours (an empty one means ours)."""
    if jurisdiction_id and jurisdiction_id.strip() != JURISDICTION_ID:
        raise NotFound(f"jurisdiction_id {jurisdiction_id!r} not found: this is {JURISDICTION_ID}")


def parse_datetime(name: str, text: str) -> datetime:
    """A W3C date-time with a time zone, or a date (midnight in London), from 2000-01-01 to
    2100-01-01; else ``InvalidInput``."""
    text = text.strip()
    # An unencoded "+01:00" arrives as " 01:00" after form decoding; put the plus back.
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            value = datetime.combine(date.fromisoformat(text), time(), LONDON)
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            {name: "must be a W3C date and time, e.g. 2026-11-24T21:30:00Z"}
        ) from None
    if value.tzinfo is None:
        raise InvalidInput({name: "must include a time zone, e.g. 2026-11-24T21:30:00Z"})
    try:
        # Bounded so that the 90-day window around it stays inside datetime's range.
        return check_filter_datetime(value)
    except OutOfBounds as out:
        raise InvalidInput({name: str(out)}) from None


@dataclass(frozen=True)
class DateRange:
    """A half-open window [start, end) of at most 90 days."""

    start: datetime
    end: datetime


def parse_date_range(params: Mapping[str, str], now: datetime) -> DateRange:
    """``start_date``/``end_date`` as the spec reads them: at most 90 days apart; one alone
    means the 90 days after (or before) it; neither means the last 90 days."""
    start_text, end_text = params.get("start_date"), params.get("end_date")
    start = parse_datetime("start_date", start_text) if start_text else None
    end = parse_datetime("end_date", end_text) if end_text else None
    if start and end:
        if end < start:
            raise InvalidInput({"end_date": "must not be before start_date"})
        if end - start > MAX_SPAN:
            raise InvalidInput({"end_date": "must be within 90 days of start_date"})
    elif start:
        end = start + MAX_SPAN
    elif end:
        start = end - MAX_SPAN
    else:
        end = now
        start = now - MAX_SPAN
    return DateRange(start, end)


@dataclass(frozen=True)
class Page:
    """The ``page``/``page_size`` extension: 1-based pages."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.number - 1) * self.size


def parse_page(params: Mapping[str, str]) -> Page:
    """Read ``page`` (1 to 100,000) and ``page_size`` (1 to 1000, default 1000)."""
    errors: dict[str, str] = {}
    values = {}
    for name, default, ceiling in (
        ("page", 1, MAX_PAGE),
        ("page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    ):
        try:
            values[name] = parse_int(name, params.get(name), default=default, maximum=ceiling)
        except InvalidInput as invalid:
            errors.update(invalid.field_errors)
    if errors:
        raise InvalidInput(errors)
    return Page(values["page"], values["page_size"])


def window_and_page(
    params: Mapping[str, str], now: datetime, errors: dict[str, str]
) -> tuple[DateRange, Page]:
    """The date window and page asked for; ``InvalidInput`` names these problems together
    with the ``errors`` already found in the other parameters."""
    try:
        window = parse_date_range(params, now)
        page = parse_page(params)
    except InvalidInput as invalid:
        errors.update(invalid.field_errors)
    if errors:
        raise InvalidInput(errors)
    return window, page


def _comma_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# --------------------------------------------------------------------------------------------
# Discovery and services
# --------------------------------------------------------------------------------------------


def discovery(base_url: str, docs_url: str) -> dict[str, Any]:
    """The Service Discovery document (wiki ``Service_Discovery``): one production endpoint."""
    return {
        "changeset": CHANGESET,
        "contact": f"Safer Streets, Safer Lewisham Partnership: {base_url}",
        "key_service": f"API keys are issued by the Safer Streets administrators: see {docs_url}",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{base_url}/open311/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def attributes_for(session: Session, category_slug: str) -> list[dict[str, Any]]:
    """The service definition attributes of a category: its reasons, when it has them."""
    reasons = taxonomy.reasons_for(session, category_slug)
    if not reasons:
        return []
    return [
        {
            "variable": True,
            "code": REASONS_ATTRIBUTE,
            "datatype": "multivaluelist",
            "required": False,
            "datatype_description": "Choose any that apply; send each as attribute[reasons][].",
            "order": 1,
            "description": taxonomy.REASONS_QUESTION,
            "values": [{"key": r.key, "name": r.label} for r in reasons],
        }
    ]


def service_list(session: Session) -> list[dict[str, Any]]:
    """GET services: one service per public category, in display order."""
    return [
        {
            "service_code": category.slug,
            "service_name": category.name,
            "description": category.description,
            "metadata": bool(attributes_for(session, category.slug)),
            "type": SERVICE_TYPE,
            "keywords": ", ".join(taxonomy.keywords_for(category.slug)),
            "group": category.group,
        }
        for category in public_categories(session)
    ]


def get_service(session: Session, service_code: str) -> Category:
    """The public category with this service code, or ``NotFound``."""
    category = session.scalar(
        select(Category).where(Category.slug == service_code.strip(), Category.public)
    )
    if category is None:
        raise NotFound(f"service_code {service_code!r} not found")
    return category


def service_definition(session: Session, service_code: str) -> dict[str, Any]:
    """GET services/{service_code}: the category's attributes (empty for most)."""
    category = get_service(session, service_code)
    return {"service_code": category.slug, "attributes": attributes_for(session, category.slug)}


# --------------------------------------------------------------------------------------------
# POST requests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedRequest:
    """The outcome of POST requests."""

    report: Report
    created: bool
    account_id: str | None


def _submission_data(
    session: Session, form: RequestForm, category: Category
) -> tuple[dict[str, Any], dict[str, str]]:
    """Map Open311 parameters onto the JSON API's submission fields; also return what cannot
    be mapped (unknown attributes, an address_id that is not a postcode), by parameter."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {"category": category.slug}
    for source, target in (
        ("lat", "lat"),
        ("long", "lon"),
        ("description", "description"),
        ("email", "contact_email"),
        ("phone", "contact_phone"),
        ("media_url", "media_url"),
    ):
        if form.get(source) is not None:
            data[target] = form.get(source)
    address_id = form.get("address_id")
    if form.get("address_string") is not None:
        data["location_text"] = form.get("address_string")
    elif address_id is not None:
        if normalise_postcode(address_id) is None:
            errors["address_id"] = "must be a Lewisham postcode, e.g. SE6 4JU"
        else:
            data["location_text"] = address_id
    name = " ".join(part for part in (form.get("first_name"), form.get("last_name")) if part)
    if name:
        data["contact_name"] = name
    known = {attribute["code"] for attribute in attributes_for(session, category.slug)}
    for code in form.attributes:
        if code not in known:
            errors[f"attribute[{code}]"] = f"is not an attribute of service {category.slug!r}"
    if form.attributes.get(REASONS_ATTRIBUTE):
        data["reasons"] = form.attributes[REASONS_ATTRIBUTE]
    return data, errors


def _in_open311_terms(invalid: InvalidInput, form: RequestForm) -> InvalidInput:
    address_field = "address_string" if form.get("address_string") else "address_id"
    names = {**_OPEN311_FIELD, "location_text": address_field}
    errors = dict(invalid.field_errors)
    if not any(form.get(name) for name in ("lat", "long", "address_string", "address_id")):
        # No location at all: say so in the spec's terms.
        errors.pop("location", None)
        errors["lat"] = "a location is required: lat and long, address_string or address_id"
    return InvalidInput({names.get(k, k): v for k, v in errors.items()})


def create_request(
    session: Session,
    client: ApiClient,
    form: RequestForm,
    *,
    places: Places,
    idempotency_key: str | None = None,
) -> CreatedRequest:
    """POST requests: validate as the JSON API does, store the report and issue its token.
    ``idempotency_key`` (the request's ``Idempotency-Key``, scoped to the client): a client
    that posts again with the same key and body, not having heard the first answer, is given
    the first request again, never a second one.

    ``NotFound`` for an unknown service; ``InvalidInput`` (in Open311 parameter names)
    for anything else wrong. An ``address_string`` is placed at once: a client hears straight
    away that text is ambiguous or unknown, rather than its report going to triage.
    """
    check_jurisdiction(form.get("jurisdiction_id"))
    service_code = form.get("service_code")
    if service_code is None:
        raise InvalidInput({"service_code": "is required"})
    category = get_service(session, service_code)
    data, unmapped = _submission_data(session, form, category)
    try:
        submission = parse_submission(data)
    except InvalidInput as invalid:
        errors = _in_open311_terms(invalid, form).field_errors
        if "address_id" in unmapped:
            errors.pop("location", None)  # there was one; it was not a postcode
        raise InvalidInput({**errors, **unmapped}) from None
    if unmapped:
        raise InvalidInput(unmapped)
    attribution = {name: form.get(name) for name in ("device_id", "account_id") if form.get(name)}
    try:
        report, created = submit_report(
            session,
            submission,
            places=places,
            source="open311",
            place_now=True,
            client=client,
            attribution=attribution,
            idempotency_key=idempotency_key,
        )
    except InvalidInput as invalid:
        raise _in_open311_terms(invalid, form) from None
    if not created:
        logger.info("Open311 request %s replayed for API client %s", report.reference, client.id)
        return CreatedRequest(report, created, form.get("account_id"))
    report.open311_token = secrets.token_urlsafe(18)
    session.flush()
    logger.info("Open311 request %s created by API client %s", report.reference, client.id)
    return CreatedRequest(report, created, form.get("account_id"))


def created_view(result: CreatedRequest) -> dict[str, Any]:
    """The POST requests response: the reference at once, and a token for token-based clients.

    Both are given because the reference is allocated immediately while routing continues in
    the background; GET tokens/{token} answers with the same reference.
    """
    return {
        "service_request_id": result.report.reference,
        "token": result.report.open311_token,
        "service_notice": EMERGENCY_NOTICE if result.report.category.emergency_notice else "",
        "account_id": result.account_id,
    }


# --------------------------------------------------------------------------------------------
# GET requests
# --------------------------------------------------------------------------------------------


def _with_relations(query: Select[tuple[Report]]) -> Select[tuple[Report]]:
    # The ward's boundary is large and not needed here: only its name is shown.
    return query.options(
        joinedload(Report.owner),
        joinedload(Report.ward).load_only(Ward.code, Ward.name),
        selectinload(Report.events),
    )


def listed_in_public() -> ColumnElement[bool]:
    """SQL condition: reports the public may see one by one (``rules_for``'s ``listed`` for
    the public), so that pages are filled only with reports that will be shown."""
    return Category.public & Category.disclosure_listed & (Report.status != ReportStatus.HELD)


# How Category.disclosure_time truncates a time, in PostgreSQL's date_trunc units.
_TRUNCATION_UNIT = case(
    (Category.disclosure_time == "hour", "hour"),
    (Category.disclosure_time == "day", "day"),
    (Category.disclosure_time == "month", "month"),
    else_="microseconds",
)


def published_time(column: Any) -> ColumnElement[datetime]:
    """SQL: a time of a report as the public sees it, truncated in London time to its
    category's precision (as ``policy.truncate`` does)."""
    local = func.timezone(LONDON.key, column)
    return func.timezone(LONDON.key, func.date_trunc(_TRUNCATION_UNIT, local))


def public_views(reports: Iterable[Report]) -> list[Disclosure]:
    """The reports as the public may see them, leaving out any it may not."""
    shown = [disclose(report, Audience.PUBLIC) for report in reports]
    return [one for one in shown if one.listed]


def find_requests(session: Session, params: Mapping[str, str], now: datetime) -> list[Disclosure]:
    """GET requests with the spec's filters and the ``page``/``page_size`` extension.

    ``service_request_id`` (a comma list) overrides every other filter, as the spec says.
    Dates filter and order by the time as published; within one published time the order is
    the (random) reference, which says nothing about which came first.
    """
    check_jurisdiction(params.get("jurisdiction_id"))
    for name, value in params.items():
        if value and "\x00" in value:
            # PostgreSQL text cannot hold NUL: refuse it as bad input, not a failed query.
            raise InvalidInput({name: "must not contain NUL characters"})
    query = select(Report).join(Report.category).where(listed_in_public())
    ids = _comma_list(params.get("service_request_id"))
    if ids:
        if len(ids) > MAX_IDS:
            raise InvalidInput({"service_request_id": f"at most {MAX_IDS} ids at once"})
        wanted = [reference.upper() for reference in ids]
        query = query.where(Report.reference.in_(wanted)).order_by(Report.reference)
        return public_views(session.scalars(_with_relations(query)).unique())

    errors: dict[str, str] = {}
    codes = _comma_list(params.get("service_code"))
    if codes:
        known = set(session.scalars(select(Category.slug).where(Category.public)))
        unknown = [code for code in codes if code not in known]
        if unknown:
            errors["service_code"] = f"unknown service_code {unknown[0]!r}"
        query = query.where(Category.slug.in_(codes))
    statuses = {status.lower() for status in _comma_list(params.get("status"))}
    if statuses - {"open", "closed"}:
        errors["status"] = "must be open or closed (or both, comma-separated)"
    elif statuses == {"open"}:
        query = query.where(Report.status.in_(OPEN_STATUSES))
    elif statuses == {"closed"}:
        query = query.where(Report.status.not_in(OPEN_STATUSES))
    window, page = window_and_page(params, now, errors)
    requested = published_time(Report.created_at)
    query = (
        query.where(requested >= window.start, requested < window.end)
        .order_by(requested.desc(), Report.reference)
        .limit(page.size)
        .offset(page.offset)
    )
    return public_views(session.scalars(_with_relations(query)).unique())


def get_request(session: Session, service_request_id: str, params: Mapping[str, str]) -> Disclosure:
    """GET requests/{id}: the report with this reference as the public may see it, or
    ``NotFound``, also for a report the public may not see (as if it did not exist)."""
    check_jurisdiction(params.get("jurisdiction_id"))
    query = (
        select(Report)
        .join(Report.category)
        .where(Report.reference == service_request_id.strip().upper(), listed_in_public())
    )
    found = public_views(session.scalars(_with_relations(query)).unique())
    if not found:
        raise NotFound(f"service_request_id {service_request_id!r} not found")
    return found[0]


def find_token(session: Session, token: str, params: Mapping[str, str]) -> dict[str, Any]:
    """GET tokens/{token}: the service_request_id a token stands for, or ``NotFound``."""
    check_jurisdiction(params.get("jurisdiction_id"))
    report = session.scalar(select(Report).where(Report.open311_token == token.strip()))
    if report is None:
        raise NotFound(f"token {token!r} not found")
    return {"service_request_id": report.reference, "token": report.open311_token}


def iso_time(value: datetime | None) -> str | None:
    """A moment as the spec writes it: ISO 8601 in UTC, to the second."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def _status_notes(report: Report) -> str | None:
    updates = [e for e in report.events if e.public and e.note and e.kind != "routed"]
    return updates[-1].note if updates else None


def public_iso_time(shown: Disclosure, value: datetime | None) -> str | None:
    """A time of a report as the spec writes it (ISO 8601 in UTC), at the precision its reader
    may see: finer parts are zero in London time."""
    moment = shown.moment(value)
    return iso_time(moment.value) if moment is not None else None


def request_view(shown: Disclosure) -> dict[str, Any]:
    """A report as GET requests shows it: only what the disclosure policy lets its reader see."""
    report, place = shown.report, shown.place
    exact = place is not None and place.precision is Location.EXACT
    description = shown.description
    if shown.reasons:
        reasons = "; ".join(shown.reasons)
        description = f"{description or ''}\n\nReasons: {reasons}".strip()
    lat = lon = None
    if place is not None and place.lat is not None and place.lon is not None:
        lat, lon = round(place.lat, 6), round(place.lon, 6)
    return {
        "service_request_id": report.reference,
        "status": "open" if report.status in OPEN_STATUSES else "closed",
        "status_notes": _status_notes(report),
        "service_name": report.category.name,
        "service_code": report.category.slug,
        "description": description,
        "agency_responsible": report.owner.name if report.owner else None,
        "service_notice": EMERGENCY_NOTICE if report.category.emergency_notice else None,
        "requested_datetime": public_iso_time(shown, report.created_at),
        "updated_datetime": public_iso_time(shown, report.updated_at),
        # Due times are a fixed span after the report was made: as precise as that, no more.
        "expected_datetime": public_iso_time(shown, report.resolve_due_at),
        "address": shown.location_text or (place.label if place is not None else None),
        "address_id": report.postcode if exact else None,
        "zipcode": report.postcode if exact else None,
        "lat": lat,
        "long": lon,
        "media_url": report.media_url if shown.rules.photo is Photo.ANY else None,
    }
