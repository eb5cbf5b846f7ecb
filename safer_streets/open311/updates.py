"""mySociety's ``servicerequestupdates``: the public updates of reports as a feed, and partner
case systems posting theirs, through the one casework workflow."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import HttpUrl, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, joinedload

from safer_streets.casework import workflow
from safer_streets.disclosure.policy import Audience, Disclosure, disclose
from safer_streets.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from safer_streets.models import (
    OPEN_STATUSES,
    ApiClient,
    Report,
    ReportEvent,
    ReportStatus,
)
from safer_streets.open311.georeport import (
    DUPLICATE_OF_ATTRIBUTE,
    EXTENDED_STATUS,
    RequestForm,
    check_jurisdiction,
    listed_in_public,
    parse_datetime,
    public_iso_time,
    published_time,
    window_and_page,
)

_DUPLICATE_OF = f"attribute[{DUPLICATE_OF_ATTRIBUTE}]"
# Where a casework field error is reported in servicerequestupdates' parameter names.
_UPDATE_PARAMETER = {"note": "description", "original": _DUPLICATE_OF}

# Extended status posted by a partner system → the internal status it moves a report to.
# OPEN and REOPEN keep an open report as it is and reopen a closed one.
REOPEN = "reopen"
INCOMING_STATUS: dict[str, ReportStatus | str] = {
    "open": REOPEN,
    "reopen": REOPEN,
    "investigating": ReportStatus.ACKNOWLEDGED,
    "for_triage": ReportStatus.ACKNOWLEDGED,
    "in_progress": ReportStatus.IN_PROGRESS,
    "planned": ReportStatus.IN_PROGRESS,
    "action_scheduled": ReportStatus.IN_PROGRESS,
    "fixed": ReportStatus.RESOLVED,
    "closed": ReportStatus.RESOLVED,
    "no_further_action": ReportStatus.NOT_ACTIONABLE,
    "cancelled": ReportStatus.NOT_ACTIONABLE,
    "duplicate": ReportStatus.DUPLICATE,
    "internal_referral": ReportStatus.REFERRED,
    "not_councils_responsibility": ReportStatus.REFERRED,
}

_URL = TypeAdapter(HttpUrl)

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# servicerequestupdates (mySociety extension)
# --------------------------------------------------------------------------------------------


def find_updates(
    session: Session, params: Mapping[str, str], now: datetime
) -> list[dict[str, Any]]:
    """GET servicerequestupdates: public updates in the window, oldest first.

    Only updates of reports the public may see one by one, at the time precision of their
    category (the window matches the time as published). A status change made without words
    for the resident is not an update, here as on the tracking page: both show the report's
    current status, and neither lists the change.
    """
    check_jurisdiction(params.get("jurisdiction_id"))
    window, page = window_and_page(params, now, {})
    earlier = aliased(ReportEvent)
    # A note leaves the status as it was: the latest status set at or before it.
    status_then = (
        select(earlier.to_status)
        .where(
            earlier.report_id == ReportEvent.report_id,
            earlier.id <= ReportEvent.id,
            earlier.to_status.is_not(None),
        )
        .order_by(earlier.id.desc())
        .limit(1)
        .correlate(ReportEvent)
        .scalar_subquery()
    )
    published = published_time(ReportEvent.at)
    rows = session.execute(
        select(ReportEvent, Report, status_then)
        .join(Report, ReportEvent.report_id == Report.id)
        .join(Report.category)
        .options(joinedload(Report.owner))
        .where(
            listed_in_public(),
            ReportEvent.public,
            published >= window.start,
            published < window.end,
        )
        .order_by(published, Report.reference, ReportEvent.id)
        .limit(page.size)
        .offset(page.offset)
    )
    found = []
    for event, report, status in rows:
        shown = disclose(report, Audience.PUBLIC)
        if shown.listed:
            found.append(update_view(event, shown, status))
    return found


def update_view(event: ReportEvent, shown: Disclosure, status: str | None) -> dict[str, Any]:
    """One public update as the extension shows it, at the time precision of its report."""
    report = shown.report
    internal = ReportStatus(status) if status else report.status
    if event.kind == "routed":
        # The routing reason is for partners; the public hear who has it (as on /track).
        description = f"Sent to {report.owner.name}." if report.owner else "Sent for triage."
    else:
        description = event.note or ""
    return {
        "update_id": str(event.id),
        "service_request_id": report.reference,
        "status": EXTENDED_STATUS[internal],
        "updated_datetime": public_iso_time(shown, event.at),
        "description": description,
        "media_url": (event.data or {}).get("media_url") or "",
    }


def incoming_status(text: str | None) -> str | ReportStatus:
    """The internal status a case system's extended status stands for, or ``REOPEN``."""
    if not text:
        raise InvalidInput({"status": "is required"})
    key = re.sub(r"[\s-]+", "_", text.strip().lower())
    if key not in INCOMING_STATUS:
        raise InvalidInput(
            {
                "status": f"unknown status {text!r}; use one of "
                + ", ".join(s.upper() for s in INCOMING_STATUS)
            }
        )
    return INCOMING_STATUS[key]


@dataclass(frozen=True)
class PostedUpdate:
    """What POST servicerequestupdates recorded: the event (its id is the ``update_id``) and
    the emails queued to the resident, to be sent once the change is committed."""

    event: ReportEvent
    emails: tuple[int, ...] = ()


def post_update(
    session: Session, client: ApiClient, form: RequestForm, *, now: datetime
) -> PostedUpdate:
    """POST servicerequestupdates: a partner system's update, made through the casework
    workflow as the same partner's staff would make it in triage, attributed to its API client.

    A status moves the report along the one workflow (NO_FURTHER_ACTION and referrals need a
    ``description``; DUPLICATE needs ``attribute[duplicate_of]``); a status the report already
    has, or OPEN on an open report, posts the ``description`` as a public update. Only the
    owner partner changes the status; a notified partner posts updates. A repeated
    ``update_id`` from the same client returns the update already recorded.
    """
    check_jurisdiction(form.get("jurisdiction_id"))
    if client.partner is None:
        raise NotAllowed("this api_key does not act for a partner, so it cannot post updates")
    reference = form.get("service_request_id")
    if reference is None:
        raise InvalidInput({"service_request_id": "is required"})
    report = session.scalar(select(Report).where(Report.reference == reference.upper()))
    if report is None:
        raise NotFound(f"service_request_id {reference!r} not found")

    external_id = form.get("update_id")
    if external_id is not None:
        already = session.scalar(
            select(ReportEvent).where(
                ReportEvent.report_id == report.id,
                ReportEvent.api_client_id == client.id,
                ReportEvent.data["update_id"].as_string() == external_id,
            )
        )
        if already is not None:
            return PostedUpdate(already)  # its emails were queued the first time

    errors: dict[str, str] = {}
    target: str | ReportStatus | None = None
    try:
        target = incoming_status(form.get("status"))
    except InvalidInput as invalid:
        errors.update(invalid.field_errors)
    media_url = form.get("media_url")
    if media_url is not None:
        try:
            media_url = str(_URL.validate_python(media_url))
        except ValidationError:
            errors["media_url"] = "must be an http or https URL"
    their_time = form.get("updated_datetime")
    if their_time is not None:
        try:
            their_time = parse_datetime("updated_datetime", their_time).isoformat()
        except InvalidInput as invalid:
            errors.update(invalid.field_errors)
    originals = form.attributes.get(DUPLICATE_OF_ATTRIBUTE, [])
    if len(originals) > 1:
        errors[_DUPLICATE_OF] = "give one service_request_id: the report this one duplicates"
    elif originals and target is not None and target is not ReportStatus.DUPLICATE:
        errors[_DUPLICATE_OF] = "is only for status DUPLICATE"
    if errors:
        raise InvalidInput(errors)

    if target == REOPEN:
        target = None if report.status in OPEN_STATUSES else ReportStatus.IN_PROGRESS
    author = " ".join(p for p in (form.get("first_name"), form.get("last_name")) if p)
    data = {
        "channel": "open311",
        "api_client": client.name,
        "update_id": external_id,
        "external_status": form.get("status"),
        "updated_datetime": their_time,
        "media_url": media_url,
        "author": author or None,
    }
    try:
        outcome = apply_update(
            session,
            client,
            report,
            target if isinstance(target, ReportStatus) else None,
            form.get("description"),
            originals[0] if originals else None,
            data={key: value for key, value in data.items() if value is not None},
            now=now,
        )
    except NotFound:
        # Anyone can read the request itself, so naming who is not handling it reveals nothing;
        # a key holder needs to know it is its partner, not the request, that is wrong.
        raise NotAllowed(f"{client.partner.name} is not handling {report.reference}") from None
    except InvalidTransition as refused:
        raise InvalidInput({"status": refused.message}) from None
    except InvalidInput as invalid:
        raise InvalidInput(
            {_UPDATE_PARAMETER.get(name, name): why for name, why in invalid.field_errors.items()}
        ) from None
    assert outcome.event is not None  # every one of these actions records an event
    logger.info("Update on %s posted by API client %s", report.reference, client.id)
    return PostedUpdate(outcome.event, outcome.emails)


def apply_update(
    session: Session,
    client: ApiClient,
    report: Report,
    target: ReportStatus | None,
    description: str | None,
    original: str | None,
    *,
    data: dict[str, Any],
    now: datetime,
) -> workflow.Outcome:
    """Make a case system's update through the workflow: a duplicate, a note when the status
    does not change, else a status change (``post_update``, and updates read back by
    ``outbound``)."""
    if target is ReportStatus.DUPLICATE and (original or report.status is not target):
        return workflow.mark_duplicate(
            session, client, report, original or "", note=description, now=now, data=data
        )
    if target is None or target is report.status:
        # Case systems send a status with every update; the one they already set is a comment.
        if not description:
            raise InvalidInput({"description": "is required when the status does not change"})
        return workflow.add_note(
            session, client, report, description, public=True, now=now, data=data
        )
    return workflow.change_status(
        session, client, report, target, note=description, public=True, now=now, data=data
    )
