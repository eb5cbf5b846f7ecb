"""Updates by email for people who added their voice to a report.

A supporter may leave an address (no account) to hear of the report's public updates and its
resolution. Each email shows no more of the report than the public sees (the disclosure
policy's public audience: a supporter holds no private link), and carries a signed one-click
stop link with RFC 8058 headers. Stopping forgets the address; retention forgets it too once
the report has been closed a while (``privacy.retention``).
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete
from sqlalchemy.orm import Session

from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.models import EmailOutbox, Report, ReportEvent, ReportStatus, ReportSupport
from safer_streets.notifications import outbox
from safer_streets.notifications.email_text import render_email
from safer_streets.residents import listing
from safer_streets.settings import Settings

EMAIL_KIND = outbox.Kind.SUPPORTER_UPDATE


def _serializer(secret_key: str) -> URLSafeSerializer:
    # Its own salt: an alert's unsubscribe token cannot stop a supporter's emails, nor back.
    return URLSafeSerializer(secret_key, salt="safer-streets:supporter-stop")


def stop_token(support: ReportSupport, secret_key: str) -> str:
    """The signed token of one supporter's stop link; it never expires, so an old email can
    always stop the next."""
    return _serializer(secret_key).dumps([support.id])


def supporter_for(session: Session, signed: str, secret_key: str) -> ReportSupport | None:
    """The supporter a stop link stands for, if it is genuine and they still get emails."""
    try:
        (support_id,) = _serializer(secret_key).loads(signed)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(support_id, int):
        return None
    support = session.get(ReportSupport, support_id)
    return support if support is not None and support.email else None


def stop(session: Session, signed: str, secret_key: str) -> bool:
    """Stop a supporter's emails and forget their address; False if there was nothing to stop."""
    support = supporter_for(session, signed, secret_key)
    if support is None:
        return False
    support.email = None
    # Emails not sent yet hold the address too.
    session.execute(
        delete(EmailOutbox).where(
            EmailOutbox.kind == EMAIL_KIND,
            EmailOutbox.sent_at.is_(None),
            EmailOutbox.data["support_id"].as_integer() == support.id,
        )
    )
    session.flush()
    return True


def compose_supporter_update(
    session: Session, row: EmailOutbox, settings: Settings
) -> outbox.Composed | None:
    """The update as the public sees it, unless the supporter stopped their emails or the
    public may no longer see the report."""
    support = session.get(ReportSupport, row.data.get("support_id"))
    if support is None or not support.email or support.email.lower() != row.recipient.lower():
        return None
    report = session.get(Report, row.report_id)
    event = session.get(ReportEvent, row.event_id)
    if report is None or event is None:
        return None
    shown = disclose(report, Audience.PUBLIC)
    if not shown.listed:
        return None
    base = settings.base_url.rstrip("/")
    stop_link = f"{base}/report/support/stop/{stop_token(support, settings.secret_key)}"
    subject, body = render_email(
        "residents/email/supporter_update",
        reference=report.reference,
        category=report.category.name,
        place=shown.place.label if shown.place else None,
        note=event.note if event.public else None,
        resolved=event.to_status == ReportStatus.RESOLVED.value,
        status=listing.status_words(report.status, report.owner.name if report.owner else None),
        link=f"{base}/track/{report.reference}",
        stop_link=stop_link,
    )
    return outbox.Composed(
        subject,
        body,
        {
            # RFC 8058: mail programs offer "unsubscribe" and POST to the link, with no page.
            "List-Unsubscribe": f"<{stop_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


outbox.register_composer(EMAIL_KIND, compose_supporter_update)
