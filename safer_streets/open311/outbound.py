"""The Open311 send method: routed reports posted to a partner's own case system, and the
updates made there read back into the report's history through the one casework workflow.

Like the email outbox, a post is a row (``Open311Send``) written before anything is sent: the
sweep (``queue_unsent``) writes one for each report routed to a partner that takes Open311,
``claim_due`` hands due rows to the worker under a lease, and ``send`` posts one, recording the
partner's id for it or the error and when to try again. A row that keeps failing, or that the
partner's server refuses, stays unsent and visible to admins until one of them retries it.

What is posted is what the disclosure policy lets the owner partner's staff see
(``Audience.OWNER_STAFF``), and less: the category, the place, the resident's words and
reasons, and our reference. Never the reporter's contact details (the resident hears from us,
not from two systems), internal notes, photos or supporters. A sensitive report's post is
written to the access log, as every view of it is.

Updates are read from mySociety's ``GET servicerequestupdates`` (``fetch_updates``) and made
as the partner's case system would make them by posting to us (``updates.apply_update``),
under the API client the send method keeps for it. An update the workflow refuses (a status
our report cannot move to) is kept as an internal note, so nothing the partner said is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, joinedload

from safer_streets.disclosure import access_log
from safer_streets.disclosure.policy import Audience, Disclosure, disclose
from safer_streets.errors import InvalidInput, NotFound, SaferStreetsError
from safer_streets.models import (
    ApiClient,
    Open311Send,
    PartnerSendMethod,
    Report,
    ReportEvent,
    ReportStatus,
    SendMethod,
)
from safer_streets.open311 import updates
from safer_streets.open311.client import Open311Client, Open311Error, RequestUpdate

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Reports in these statuses are posted; one closed before its turn came is not.
SENDABLE = (ReportStatus.ROUTED, ReportStatus.ACKNOWLEDGED, ReportStatus.IN_PROGRESS)
MAX_DESCRIPTION_CHARS = 4000
ACCESS_SURFACE = "Open311 post to the partner's case system"
EVENT_SENT = "sent_to_case_system"
# GET servicerequestupdates windows are at most 90 days (the spec's limit for requests).
MAX_WINDOW = timedelta(days=90)

ClientFor = Callable[[PartnerSendMethod], Open311Client]


def client_factory(timeout_seconds: float) -> ClientFor:
    """Clients for send methods, with the configured timeout."""

    def client_for(method: PartnerSendMethod) -> Open311Client:
        # The table's check constraint: an Open311 method has both.
        assert method.endpoint is not None
        assert method.api_key is not None
        return Open311Client(
            endpoint=method.endpoint,
            api_key=method.api_key,
            jurisdiction_id=method.jurisdiction_id,
            timeout_seconds=timeout_seconds,
        )

    return client_for


def masked_key(key: str | None) -> str | None:
    """An API key as admins see it again: its last four characters only."""
    if not key:
        return None
    return "…" + key[-4:] if len(key) > 8 else "…"


# ---- Which reports to send ------------------------------------------------------------------


def queue_unsent(
    session: Session, *, report_ids: Collection[int] | None = None, limit: int = 500
) -> int:
    """Write a send row for each report owned by an Open311 partner that has none yet.

    Reports routed before the partner took Open311 are left to its email; a re-routed
    report gets a row for its new owner. Returns how many rows were written.
    """
    query = (
        select(Report.id, Report.owner_partner_id)
        .join(PartnerSendMethod, PartnerSendMethod.partner_id == Report.owner_partner_id)
        .where(
            PartnerSendMethod.method == SendMethod.OPEN311,
            Report.routed_at >= PartnerSendMethod.open311_since,
            Report.status.in_(SENDABLE),
            ~select(Open311Send.id)
            .where(
                Open311Send.report_id == Report.id,
                Open311Send.partner_id == Report.owner_partner_id,
            )
            .exists(),
        )
        .order_by(Report.id)
        .limit(limit)
    )
    if report_ids is not None:
        query = query.where(Report.id.in_(report_ids))
    written = session.execute(
        insert(Open311Send)
        .from_select(["report_id", "partner_id"], query)
        .on_conflict_do_nothing(constraint="open311_send_once")
        .returning(Open311Send.id)
    )
    return len(written.all())


def claim_due(
    session: Session,
    now: datetime,
    *,
    lease: timedelta,
    report_ids: Collection[int] | None = None,
    limit: int = 100,
) -> list[int]:
    """Unsent rows due now (never tried, or their backoff has passed), leased so that the next
    sweep skips them while a worker has them; a lost message's lease runs out and the row is
    due again, so no report is lost."""
    query = (
        select(Open311Send.id)
        .where(
            Open311Send.sent_at.is_(None),
            Open311Send.attempts < MAX_ATTEMPTS,
            or_(Open311Send.next_attempt_at.is_(None), Open311Send.next_attempt_at <= now),
        )
        .order_by(func.coalesce(Open311Send.next_attempt_at, Open311Send.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if report_ids is not None:
        query = query.where(Open311Send.report_id.in_(report_ids))
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(Open311Send)
            .where(Open311Send.id.in_(ids))
            .values(next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    return ids


# ---- What is sent -----------------------------------------------------------------------------


def request_fields(shown: Disclosure, method: PartnerSendMethod) -> dict[str, str]:
    """The POST requests parameters for a report as its owner's staff see it (``shown``), less
    contact details, notes and photos (see the module's docstring)."""
    report = shown.report
    slug = report.category.slug
    fields = {"service_code": (method.service_codes or {}).get(slug, slug)}
    place = shown.place
    if place is not None and place.lat is not None and place.lon is not None:
        fields["lat"] = f"{place.lat:.6f}"
        fields["long"] = f"{place.lon:.6f}"
    elif shown.location_text:
        fields["address_string"] = shown.location_text
    footer = f"\n\nSafer Streets reference: {report.reference}"
    if shown.reasons:
        footer = f"\n\nReasons: {'; '.join(shown.reasons)}{footer}"
    words = (shown.description or "").strip()
    room = MAX_DESCRIPTION_CHARS - len(footer)
    if len(words) > room:
        words = words[: room - 1].rstrip() + "…"
    fields["description"] = (words + footer).strip()
    return fields


def retry_delay(attempts: int, base_seconds: int, max_seconds: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed post: doubling, capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class RetryPolicy:
    """The backoff of failed posts (settings ``open311_retry_*``)."""

    base_seconds: int = 60
    max_seconds: int = 3600


def send(
    session: Session,
    send_id: int,
    client_for: ClientFor,
    now: datetime,
    retry: RetryPolicy | None = None,
) -> bool:
    """Post one row's report unless it was already posted; True if it was posted now.

    The row stays locked while the partner's server answers (at most the client's timeout),
    so a redelivered task or a second worker waits and then finds it sent.
    """
    retry = retry or RetryPolicy()
    row = session.scalar(
        select(Open311Send).where(Open311Send.id == send_id).with_for_update(of=Open311Send)
    )
    if row is None or row.sent_at is not None:
        return False
    report = row.report
    method = session.get(PartnerSendMethod, row.partner_id)
    if method is None or method.method is not SendMethod.OPEN311:
        return _set_aside(row, "not sent: the partner no longer takes reports by Open311")
    if report.owner_partner_id != row.partner_id:
        return _set_aside(row, "not sent: re-routed to another partner before it was sent")
    if report.status not in SENDABLE:
        return _set_aside(row, f"not sent: closed here ({report.status.value}) before its turn")
    row.attempts += 1
    shown = disclose(report, Audience.OWNER_STAFF)
    try:
        # The same key on every attempt of this row: a post whose answer was lost (or whose
        # commit here failed) is not made twice by a server that honours the header.
        posted = client_for(method).post_request(
            request_fields(shown, method),
            idempotency_key=f"safer-streets-{report.reference}-send-{row.id}",
        )
    except Open311Error as error:
        row.last_error = str(error)[:1000]
        if error.refused:
            # The same post would be refused again: it waits for an admin's retry.
            row.attempts = max(row.attempts, MAX_ATTEMPTS)
            row.last_error = f"{row.last_error} (refused: not tried again until retried)"[:1000]
        row.next_attempt_at = now + retry_delay(row.attempts, retry.base_seconds, retry.max_seconds)
        logger.warning("Posting %s to %s failed: %s", report.reference, method.endpoint, error)
        return False
    row.service_request_id = posted.service_request_id
    row.token = posted.token
    row.sent_at = now
    row.last_error = None
    row.next_attempt_at = None
    client = method.api_client
    session.add(
        ReportEvent(
            report_id=report.id,
            api_client_id=client.id if client else None,
            kind=EVENT_SENT,
            note=f"Posted to {report.owner.name}'s case system"
            + (f" as {posted.service_request_id}" if posted.service_request_id else ""),
            data={
                "partner": report.owner.slug,
                "channel": "open311",
                "service_request_id": posted.service_request_id,
                "token": posted.token,
            },
        )
    )
    if client is not None:
        # What left for the partner's system was the owner staff's view of the report.
        access_log.record_views(
            session,
            [shown],
            viewer=client,
            surface=ACCESS_SURFACE,
            address=None,
        )
    logger.info("Posted report %s to %s", report.reference, method.endpoint)
    return True


def _set_aside(row: Open311Send, reason: str) -> bool:
    row.attempts = max(row.attempts, MAX_ATTEMPTS)
    row.last_error = reason
    return False


def record_failure(
    session: Session,
    send_id: int,
    error: BaseException,
    now: datetime,
    retry: RetryPolicy | None = None,
) -> None:
    """A post that failed outside the client (a report the code could not turn into a post):
    counted and backed off as any failure, so it ends up before an admin, not in a loop."""
    retry = retry or RetryPolicy()
    row = session.get(Open311Send, send_id, with_for_update=True)
    if row is None or row.sent_at is not None:
        return
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:1000]
    row.next_attempt_at = now + retry_delay(row.attempts, retry.base_seconds, retry.max_seconds)


# ---- What admins see and do -------------------------------------------------------------------


def unsent(session: Session, partner_id: int, *, limit: int = 200) -> list[Open311Send]:
    """The partner's reports not posted after at least one attempt, oldest first."""
    return list(
        session.scalars(
            select(Open311Send)
            .options(joinedload(Open311Send.report))
            .where(
                Open311Send.partner_id == partner_id,
                Open311Send.sent_at.is_(None),
                Open311Send.attempts > 0,
            )
            .order_by(Open311Send.created_at, Open311Send.id)
            .limit(limit)
        )
    )


def retry(session: Session, partner_id: int, send_id: int) -> Open311Send:
    """Give an unsent post its attempts again and make it due now (an admin's retry)."""
    row = session.scalar(
        select(Open311Send)
        .where(Open311Send.id == send_id, Open311Send.partner_id == partner_id)
        .with_for_update()
    )
    if row is None or row.sent_at is not None:
        raise NotFound("no unsent report with this id for this partner: sent already?")
    row.attempts = 0
    row.next_attempt_at = None
    session.flush()
    return row


# ---- Updates read back ------------------------------------------------------------------------


def open311_partners(session: Session) -> list[int]:
    """The partners whose updates are read: those taking Open311 with something posted."""
    return list(
        session.scalars(
            select(PartnerSendMethod.partner_id)
            .where(
                PartnerSendMethod.method == SendMethod.OPEN311,
                select(Open311Send.id)
                .where(
                    Open311Send.partner_id == PartnerSendMethod.partner_id,
                    Open311Send.sent_at.is_not(None),
                )
                .exists(),
            )
            .order_by(PartnerSendMethod.partner_id)
        )
    )


@dataclass(frozen=True)
class ReadUpdates:
    """What one read of a partner's updates did: how many were applied, and the emails to the
    resident and supporters they queued (sent once committed)."""

    applied: int
    emails: tuple[int, ...] = ()


def fetch_updates(
    session: Session,
    partner_id: int,
    client_for: ClientFor,
    now: datetime,
    *,
    lookback: timedelta,
) -> ReadUpdates:
    """Read the partner's updates since the last read (less ``lookback``, for servers that
    publish times coarsely or late) and make each one not made before.

    ``Open311Error`` when the partner's server cannot be read: the last read is then left as
    it was, so the next read covers the gap.
    """
    method = session.scalar(
        select(PartnerSendMethod)
        .where(PartnerSendMethod.partner_id == partner_id)
        .with_for_update(skip_locked=True)
    )
    if method is None or method.method is not SendMethod.OPEN311:
        return ReadUpdates(0)  # another worker is reading it, or it changed
    if method.api_client is None or not method.api_client.active:
        return ReadUpdates(0)  # an admin revoked its client: nothing is made in its name
    client = client_for(method)
    _resolve_tokens(session, partner_id, client)
    since = method.updates_read_at or method.open311_since or now
    start = max(since - lookback, now - MAX_WINDOW)
    found = client.updates(start, now)
    by_request = _sent_by_request(session, partner_id, {u.service_request_id for u in found})
    applied, emails = 0, []
    ordered = sorted(found, key=lambda u: (u.updated_datetime or now, u.update_id))
    for item in ordered:
        row = by_request.get(item.service_request_id)
        if row is None or _already_made(session, method.api_client, row.report_id, item):
            continue
        emails.extend(_make(session, method.api_client, row, item, now))
        applied += 1
        if item.updated_datetime and (
            row.last_update_at is None or item.updated_datetime > row.last_update_at
        ):
            row.last_update_at = item.updated_datetime
    method.updates_read_at = now
    method.updates_error = None
    session.flush()
    return ReadUpdates(applied, tuple(emails))


def record_read_failure(session: Session, partner_id: int, error: Open311Error) -> None:
    """Keep why the partner's updates could not be read, for its admin page; the next read
    still starts from the last good one."""
    method = session.get(PartnerSendMethod, partner_id)
    if method is not None:
        method.updates_error = str(error)[:1000]


def _resolve_tokens(session: Session, partner_id: int, client: Open311Client) -> None:
    """Servers that answer a post with a token give its id later (GET tokens/{token})."""
    waiting = session.scalars(
        select(Open311Send).where(
            Open311Send.partner_id == partner_id,
            Open311Send.sent_at.is_not(None),
            Open311Send.service_request_id.is_(None),
            Open311Send.token.is_not(None),
        )
    )
    for row in waiting:
        assert row.token is not None
        row.service_request_id = client.request_for_token(row.token)


def _sent_by_request(
    session: Session, partner_id: int, request_ids: Collection[str]
) -> dict[str, Open311Send]:
    if not request_ids:
        return {}
    rows = session.scalars(
        select(Open311Send)
        .options(joinedload(Open311Send.report))
        .where(
            Open311Send.partner_id == partner_id,
            Open311Send.service_request_id.in_(request_ids),
        )
    )
    return {row.service_request_id: row for row in rows if row.service_request_id}


def _already_made(session: Session, client: ApiClient, report_id: int, item: RequestUpdate) -> bool:
    return (
        session.scalar(
            select(literal(True)).where(
                ReportEvent.report_id == report_id,
                ReportEvent.api_client_id == client.id,
                ReportEvent.data["update_id"].as_string() == item.update_id,
            )
        )
        is not None
    )


def _make(
    session: Session, client: ApiClient, row: Open311Send, item: RequestUpdate, now: datetime
) -> tuple[int, ...]:
    """One update through the workflow, or as an internal note when the workflow refuses it."""
    report = row.report
    data: dict[str, Any] = {
        "channel": "open311-read",
        "api_client": client.name,
        "update_id": item.update_id,
        "service_request_id": item.service_request_id,
        "external_status": item.status,
        "updated_datetime": item.updated_datetime.isoformat() if item.updated_datetime else None,
        "media_url": item.media_url,
    }
    data = {key: value for key, value in data.items() if value is not None}
    try:
        with session.begin_nested():
            target = updates.incoming_status(item.status)
            if target == updates.REOPEN:
                target = ReportStatus.IN_PROGRESS if report.status not in SENDABLE else None
            assert target is None or isinstance(target, ReportStatus)
            outcome = updates.apply_update(
                session, client, report, target, item.description or None, None, data=data, now=now
            )
        return outcome.emails
    except SaferStreetsError as refused:
        # Kept where staff see it: what the partner said, and why it could not be made.
        session.refresh(report)
        words = f": {item.description}" if item.description else ""
        why = (
            "; ".join(f"{name} {message}" for name, message in refused.field_errors.items())
            if isinstance(refused, InvalidInput)
            else refused.message
        )
        session.add(
            ReportEvent(
                report_id=report.id,
                api_client_id=client.id,
                kind="note",
                note=f"{client.name} says {item.status or 'nothing'}{words} "
                f"(not applied here: {why})",
                data={"partner": report.owner.slug if report.owner else None, **data},
            )
        )
        session.flush()
        logger.info("Update %s for %s kept as a note: %s", item.update_id, report.reference, why)
        return ()
