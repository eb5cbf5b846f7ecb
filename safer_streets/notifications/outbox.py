"""Email through a transactional outbox: rows written with the change, sent by the worker.

A change that should email someone (a report routed to a partner, a public update for a
resident, a password reset) inserts an ``email_outbox`` row in its own transaction. After
commit the worker is asked to send it; sending locks the row, so a redelivered task, a
retry and the sweep together still send each email once. Bodies are rendered at send
time from the current data, with links built from ``Settings.base_url``.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import ColumnElement, exists, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, joinedload

from geo.suntimes import LONDON
from safer_streets.disclosure.policy import Audience, disclose, public_routing_reason
from safer_streets.errors import InvalidInput, NotAllowed
from safer_streets.intake.tracking import tracking_path
from safer_streets.models import (
    EmailOutbox,
    NewReportEmails,
    Partner,
    PartnerPreference,
    PartnerSendMethod,
    Report,
    ReportEvent,
    ReportSupport,
    Role,
    SendMethod,
    User,
)
from safer_streets.notifications.email_text import render_email
from safer_streets.residents.listing import status_words
from safer_streets.settings import Settings

logger = logging.getLogger(__name__)

DIGEST_HOUR = 7  # London time: digests arrive before the working day starts
MAX_ATTEMPTS = 10


class Kind:
    """What an email is about (the ``kind`` column)."""

    NEW_REPORT = "new-report"
    DIGEST = "digest"
    PUBLIC_UPDATE = "public-update"
    PASSWORD_RESET = "password-reset"  # noqa: S105 - a kind of email, not a password
    ACCOUNT_SETUP = "account-setup"
    # Composed by residents.supporters, which owns the stop link.
    SUPPORTER_UPDATE = "supporter-update"


# ---- Writing the outbox (inside the caller's transaction) ------------------------------


def queue_email(
    session: Session,
    *,
    key: str,
    kind: str,
    recipient: str,
    report_id: int | None = None,
    event_id: int | None = None,
    partner_id: int | None = None,
    user_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> int | None:
    """Add an email to the outbox unless one with this key exists; return its id if new."""
    return session.scalar(
        insert(EmailOutbox)
        .values(
            key=key,
            kind=kind,
            recipient=recipient,
            report_id=report_id,
            event_id=event_id,
            partner_id=partner_id,
            user_id=user_id,
            data=data or {},
        )
        .on_conflict_do_nothing(index_elements=[EmailOutbox.key])
        .returning(EmailOutbox.id)
    )


def new_report_emails(session: Session, partner: Partner) -> NewReportEmails:
    """The partner's choice for new-report emails (immediate unless they chose otherwise)."""
    preference = session.get(PartnerPreference, partner.id)
    return preference.new_report_emails if preference else NewReportEmails.IMMEDIATE


def _emailed() -> ColumnElement[bool]:
    """SQL condition on ``Partner``: new reports reach it by email, its send method unless it
    chose another (an Open311 partner's reports are posted to its case system instead)."""
    return ~exists().where(
        PartnerSendMethod.partner_id == Partner.id, PartnerSendMethod.method != SendMethod.EMAIL
    )


def report_routed(session: Session, report: Report, event: ReportEvent | None = None) -> int | None:
    """Tell the owner partner about a report just routed to it, if it wants it now."""
    if event is None:
        event = session.scalar(
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id, ReportEvent.kind == "routed")
            .order_by(ReportEvent.id.desc())
            .limit(1)
        )
    if event is None:
        return None
    created = reports_routed(session, [(report, event)])
    return created[0] if created else None


def reports_routed(session: Session, routed: Sequence[tuple[Report, ReportEvent]]) -> list[int]:
    """``report_routed`` for many reports at once (a routed batch): one read, one insert."""
    owners = {report.owner_partner_id for report, _event in routed if report.owner_partner_id}
    if not owners:
        return []
    wanted = {
        partner_id: email
        for partner_id, email, choice in session.execute(
            select(Partner.id, Partner.email, PartnerPreference.new_report_emails)
            .outerjoin(PartnerPreference, PartnerPreference.partner_id == Partner.id)
            .where(
                Partner.id.in_(owners),
                Partner.email.is_not(None),
                Partner.email != "",
                _emailed(),
            )
        )
        if choice in (None, NewReportEmails.IMMEDIATE)
    }
    rows = [
        {
            "key": f"report:{report.id}:{Kind.NEW_REPORT}:{event.id}:{email.lower()}",
            "kind": Kind.NEW_REPORT,
            "recipient": email,
            "report_id": report.id,
            "event_id": event.id,
            "partner_id": report.owner_partner_id,
            "data": {},
        }
        for report, event in routed
        if (email := wanted.get(report.owner_partner_id))
    ]
    if not rows:
        return []
    # One statement with many parameter sets: compiled once, sent in batches.
    return list(
        session.scalars(
            insert(EmailOutbox)
            .on_conflict_do_nothing(index_elements=[EmailOutbox.key])
            .returning(EmailOutbox.id),
            rows,
        )
    )


def public_update(session: Session, report: Report, event: ReportEvent) -> int | None:
    """Email a public update to the resident, if they left an address (anonymous or not)."""
    if not report.contact_email:
        return None
    return queue_email(
        session,
        key=f"report:{report.id}:{Kind.PUBLIC_UPDATE}:{event.id}:{report.contact_email.lower()}",
        kind=Kind.PUBLIC_UPDATE,
        recipient=report.contact_email,
        report_id=report.id,
        event_id=event.id,
    )


def supporter_updates(session: Session, report: Report, event: ReportEvent) -> list[int]:
    """Email a public update or the resolution to everyone who added their voice to the
    report and left an address for it; one row each, so one stopping stops only theirs."""
    wanting = session.execute(
        select(ReportSupport.id, ReportSupport.email).where(
            ReportSupport.report_id == report.id, ReportSupport.email.is_not(None)
        )
    ).all()
    if not wanting:
        return []
    rows = [
        {
            "key": f"report:{report.id}:{Kind.SUPPORTER_UPDATE}:{event.id}:{support_id}",
            "kind": Kind.SUPPORTER_UPDATE,
            "recipient": email,
            "report_id": report.id,
            "event_id": event.id,
            "data": {"support_id": support_id},
        }
        for support_id, email in wanting
    ]
    return list(
        session.scalars(
            insert(EmailOutbox)
            .on_conflict_do_nothing(index_elements=[EmailOutbox.key])
            .returning(EmailOutbox.id),
            rows,
        )
    )


def account_link(session: Session, user: User, kind: str, now: datetime) -> int | None:
    """Email a password-reset or account-setup link; at most one per five minutes per user."""
    bucket = int(now.timestamp()) // 300
    return queue_email(
        session,
        key=f"user:{user.id}:{kind}:{bucket}",
        kind=kind,
        recipient=user.email,
        user_id=user.id,
    )


def queue_digests(session: Session, now: datetime) -> list[int]:
    """After 07:00 London time, one digest per digest-choosing partner for new reports."""
    local = now.astimezone(LONDON)
    if local.hour < DIGEST_HOUR:
        return []
    created = []
    partners = session.scalars(
        select(Partner)
        .join(PartnerPreference, PartnerPreference.partner_id == Partner.id)
        .where(
            PartnerPreference.new_report_emails == NewReportEmails.DAILY_DIGEST,
            Partner.email.is_not(None),
            _emailed(),
        )
        .order_by(Partner.id)
    )
    for partner in partners:
        previous = session.scalar(
            select(EmailOutbox.created_at)
            .where(EmailOutbox.partner_id == partner.id, EmailOutbox.kind == Kind.DIGEST)
            .order_by(EmailOutbox.created_at.desc())
            .limit(1)
        )
        since = previous or now - timedelta(days=1)
        report_ids = list(
            session.scalars(
                select(Report.id)
                .where(
                    Report.owner_partner_id == partner.id,
                    Report.routed_at >= since,
                    Report.routed_at < now,
                )
                .order_by(Report.routed_at)
            )
        )
        if not report_ids:
            continue
        outbox_id = queue_email(
            session,
            key=f"digest:{partner.id}:{local.date().isoformat()}:{partner.email.lower()}",
            kind=Kind.DIGEST,
            recipient=partner.email,
            partner_id=partner.id,
            data={"report_ids": report_ids, "since": since.isoformat()},
        )
        if outbox_id is not None:
            created.append(outbox_id)
    return created


def unsent_ids(
    session: Session,
    *,
    report_ids: Collection[int] | None = None,
    user_id: int | None = None,
    older_than: timedelta | None = None,
    now: datetime | None = None,
    limit: int = 500,
) -> list[int]:
    """Outbox rows still to send: for some reports or a user, or those the queue may have lost."""
    query = select(EmailOutbox.id).where(
        EmailOutbox.sent_at.is_(None), EmailOutbox.attempts < MAX_ATTEMPTS
    )
    if report_ids is not None:
        query = query.where(EmailOutbox.report_id.in_(report_ids))
    if user_id is not None:
        query = query.where(EmailOutbox.user_id == user_id)
    if older_than is not None:
        query = query.where(EmailOutbox.created_at < (now or datetime.now(UTC)) - older_than)
    return list(session.scalars(query.order_by(EmailOutbox.id).limit(limit)))


# ---- Links in emails -------------------------------------------------------------------

TOKEN_PURPOSES = {
    Kind.PASSWORD_RESET: timedelta(hours=1),
    Kind.ACCOUNT_SETUP: timedelta(hours=72),
}


def token_serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    """Signs account links; the salt keeps a reset token from working as anything else."""
    return URLSafeTimedSerializer(secret_key, salt=f"safer-streets:{purpose}")


def password_fingerprint(user: User) -> str:
    """Changes whenever the password does, so a used link stops working (single use)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def account_token(user: User, secret_key: str, purpose: str) -> str:
    """A signed, expiring link token for setting this user's password."""
    return token_serializer(secret_key, purpose).dumps(
        {"user": user.id, "fingerprint": password_fingerprint(user)}
    )


# ---- Sending (in the worker) -----------------------------------------------------------


@dataclass(frozen=True)
class SmtpMailer:
    """Sends one message over SMTP, opening a connection per message."""

    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        """The mailer the settings describe."""
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )

    def send(self, message: EmailMessage) -> None:
        """Hand the message to the SMTP server; raises on any failure so the task retries."""
        with self.connected() as connection:
            connection.send(message)

    @contextmanager
    def connected(self) -> Iterator[SmtpConnection]:
        """One SMTP session for several messages (a routed batch's partner emails)."""
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            yield SmtpConnection(smtp)


@dataclass(frozen=True)
class SmtpConnection:
    """An open SMTP session; sends like ``SmtpMailer``."""

    smtp: smtplib.SMTP

    def send(self, message: EmailMessage) -> None:
        """Hand the message to the SMTP server; raises on any failure."""
        self.smtp.send_message(message)


@dataclass(frozen=True)
class ReportForPartner:
    """A report as an email to the partner handling it may carry.

    An email leaves our systems: nobody can log who reads it, or take it back. So it never
    holds the reporter's contact details or words, and for a report whose every view is
    logged (a sensitive one) not its place or staff's reasons either, only a link to the
    report page, where the view is logged.
    """

    reference: str
    category: str
    ward: str | None
    place: str | None
    received: datetime | None
    routing_reason: str | None
    sensitive: bool
    acknowledge_due_at: datetime | None
    resolve_due_at: datetime | None

    @classmethod
    def of(cls, report: Report) -> ReportForPartner:
        shown = disclose(report, Audience.OWNER_STAFF)
        sensitive = shown.logged
        place = None if sensitive or shown.place is None else shown.place.label
        received = shown.created
        return cls(
            reference=report.reference,
            category=report.category.name,
            ward=report.ward.name if report.ward else None,
            place=place,
            received=received.value if received else None,
            routing_reason=public_routing_reason(report) if sensitive else shown.routing_reason,
            sensitive=sensitive,
            acknowledge_due_at=report.acknowledge_due_at,
            resolve_due_at=report.resolve_due_at,
        )


@dataclass(frozen=True)
class Composed:
    """An email another feature composed: its subject, plain-text body and extra headers."""

    subject: str
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)


# Composes one outbox row of a kind a feature owns, or None when it no longer applies.
Composer = Callable[[Session, EmailOutbox, Settings], Composed | None]
_composers: dict[str, Composer] = {}


def register_composer(kind: str, composer: Composer) -> None:
    """Let a feature compose its own kinds of email (residents' alerts), so that they are
    rendered at send time like the outbox's own without this module importing the feature."""
    _composers[kind] = composer


def compose(session: Session, row: EmailOutbox, settings: Settings) -> EmailMessage | None:
    """The message for an outbox row, or ``None`` when it no longer makes sense to send."""
    base = settings.base_url.rstrip("/")
    context: dict[str, Any] = {"base_url": base}
    headers: Mapping[str, str] = {}
    if (composer := _composers.get(row.kind)) is not None:
        composed = composer(session, row, settings)
        if composed is None:
            return None
        subject, body, headers = composed.subject, composed.body, composed.headers
    elif row.kind == Kind.NEW_REPORT:
        report = session.get(Report, row.report_id)
        if report is None or report.owner_partner_id != row.partner_id:
            return None  # re-routed before we got to it: the new owner gets its own email
        context |= {
            "report": ReportForPartner.of(report),
            "owner": report.owner.name if report.owner else "",
            "link": f"{base}/triage/reports/{report.reference}",
        }
        subject, body = render_email("email/new_report", **context)
    elif row.kind == Kind.PUBLIC_UPDATE:
        report = session.get(Report, row.report_id)
        event = session.get(ReportEvent, row.event_id)
        if report is None or event is None:
            return None
        # The resident's private link: it opens their report whatever its category.
        link = base + tracking_path(settings.secret_key, report.reference)
        status = status_words(report.status, report.owner.name if report.owner else None)
        context |= {"report": report, "event": event, "link": link, "status": status}
        subject, body = render_email("email/public_update", **context)
    elif row.kind == Kind.DIGEST:
        partner = session.get(Partner, row.partner_id)
        reports = session.scalars(
            select(Report)
            .options(joinedload(Report.ward), joinedload(Report.category))
            .where(Report.id.in_(row.data.get("report_ids", [])))
            .order_by(Report.routed_at)
        ).all()
        context |= {
            "partner": partner,
            "reports": [ReportForPartner.of(report) for report in reports],
            "day": row.created_at,
        }
        subject, body = render_email("email/digest", **context)
    elif row.kind in TOKEN_PURPOSES:
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        token = account_token(user, settings.secret_key, row.kind)
        hours = int(TOKEN_PURPOSES[row.kind].total_seconds() // 3600)
        context |= {"user": user, "link": f"{base}/password/reset/{token}", "hours": hours}
        subject, body = render_email("email/" + row.kind.replace("-", "_"), **context)
    else:
        logger.error("Unknown email kind %r in outbox row %s", row.kind, row.id)
        return None
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = row.recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # The same id on every attempt lets a mail server drop a duplicate of a retried send.
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain="safer-streets")
    message["Auto-Submitted"] = "auto-generated"
    for name, value in headers.items():
        message[name] = value
    message.set_content(body)
    return message


def deliver(
    session: Session,
    outbox_id: int,
    mailer: SmtpMailer | SmtpConnection,
    settings: Settings,
    now: datetime,
) -> bool:
    """Send one outbox email unless it was already sent; True if it was sent now."""
    row = session.scalar(
        select(EmailOutbox).where(EmailOutbox.id == outbox_id).with_for_update(of=EmailOutbox)
    )
    if row is None or row.sent_at is not None:
        return False
    row.attempts += 1
    message = compose(session, row, settings)
    if message is None:
        row.sent_at = now
        row.last_error = "not sent: no longer applies"
        return False
    mailer.send(message)
    row.sent_at = now
    row.last_error = None
    logger.info("Sent %s email %s to %s", row.kind, row.id, row.recipient)
    return True


# The mail server could not be reached at all: no fault of the email. Such a failure backs off
# like any other but never counts an email's last attempt, so an outage of any length gives
# up on nothing (at least once, never lost).
SERVER_UNREACHABLE = (
    ConnectionError,
    TimeoutError,
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
)


def retry_delay(attempts: int, base_seconds: int, max_seconds: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed send: doubling, capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))


def record_failure(
    session: Session,
    outbox_ids: int | Collection[int],
    error: BaseException,
    *,
    now: datetime | None = None,
    base_seconds: int = 30,
    max_seconds: int = 1800,
) -> None:
    """Note a failed attempt and when to try again, so the outbox shows why an email is late
    and the outbox sweep (not a retry message per email) sends it once it is due.

    One statement for a whole batch: with the mail server down a batch fails at once.
    """
    ids = [outbox_ids] if isinstance(outbox_ids, int) else list(outbox_ids)
    if not ids:
        return
    now = now or datetime.now(UTC)
    # attempts is the count before this failure: the delay doubles from base_seconds.
    delay = func.least(max_seconds, base_seconds * func.power(2, EmailOutbox.attempts))
    attempts = EmailOutbox.attempts + 1
    if isinstance(error, SERVER_UNREACHABLE):
        attempts = func.least(attempts, MAX_ATTEMPTS - 1)
    session.execute(
        update(EmailOutbox)
        .where(EmailOutbox.id.in_(ids), EmailOutbox.sent_at.is_(None))
        .values(
            attempts=attempts,
            last_error=f"{type(error).__name__}: {error}"[:1000],
            next_attempt_at=now + delay * literal_column("interval '1 second'"),
        )
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def claim_due(
    session: Session,
    now: datetime,
    *,
    never_tried_after: timedelta,
    lease: timedelta,
    limit: int = 500,
) -> list[int]:
    """Outbox rows the sweep should hand to a worker now, leased so the next sweep skips them.

    Due: a failed send whose backoff has passed, or an email never tried that is older than
    ``never_tried_after`` (its writer's message was lost: the broker was down). The lease
    (``next_attempt_at`` moved on) bounds the broker to one message per batch however often
    the sweep runs while the mail server is down; if the message is lost the lease runs out
    and the row is due again, so no email is ever lost.
    """
    due = or_(
        EmailOutbox.next_attempt_at <= now,
        (EmailOutbox.next_attempt_at.is_(None))
        & (EmailOutbox.created_at < now - never_tried_after),
    )
    ids = list(
        session.scalars(
            select(EmailOutbox.id)
            .where(EmailOutbox.sent_at.is_(None), EmailOutbox.attempts < MAX_ATTEMPTS, due)
            .order_by(func.coalesce(EmailOutbox.next_attempt_at, EmailOutbox.created_at))
            .limit(limit)
            # Two sweeps at once (two beats by mistake) hand out each row only once.
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(EmailOutbox)
            .where(EmailOutbox.id.in_(ids))
            .values(next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    return ids


def set_new_report_emails(session: Session, actor: User, choice: str) -> PartnerPreference:
    """A partner admin chooses how their partner hears about new reports."""
    if actor.role is not Role.PARTNER_ADMIN or actor.partner_id is None:
        raise NotAllowed("only a partner admin can change how the partner is emailed")
    try:
        mode = NewReportEmails(choice)
    except ValueError:
        raise InvalidInput({"new_report_emails": "choose one of the options"}) from None
    preference = session.get(PartnerPreference, actor.partner_id)
    if preference is None:
        preference = PartnerPreference(partner_id=actor.partner_id)
        session.add(preference)
    preference.new_report_emails = mode
    session.flush()
    return preference
