""" "Is it fixed?": some weeks after a report is resolved, its reporter (if they left an email)
is asked, through their private tracking link, whether the problem is fixed.

A report is asked once and answered once; the answer is an entry in its history, and "not
fixed" reopens it through the one workflow as the reporter's own "still a problem" does. The
share of answers saying "fixed" is each partner's satisfaction measure on the board.

The question and the answer are ``ReportEvent`` rows (``questionnaire_sent``,
``questionnaire_answered``): the report's history is where partners look, and a unique key on
the outbox row keeps a second email from ever being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Exists, exists, select
from sqlalchemy.orm import Session, aliased

from safer_streets.casework import workflow
from safer_streets.errors import InvalidInput
from safer_streets.intake import tracking
from safer_streets.models import EmailOutbox, Report, ReportEvent, ReportStatus
from safer_streets.notifications import outbox
from safer_streets.notifications.email_text import render_email
from safer_streets.settings import Settings

EMAIL_KIND = "questionnaire"
SENT = "questionnaire_sent"
ANSWERED = "questionnaire_answered"
# Enough for a day's resolutions in the borough; the beat task runs again the next hour.
BATCH = 500


def _has_event(kind: str) -> Exists:
    event = aliased(ReportEvent)
    return exists().where(event.report_id == Report.id, event.kind == kind)


def queue_questionnaires(session: Session, now: datetime, *, after: timedelta) -> list[int]:
    """Ask every reporter whose report was resolved at least ``after`` ago and who left an
    email, once; returns the outbox ids of the emails written."""
    due = session.scalars(
        select(Report)
        .where(
            Report.status == ReportStatus.RESOLVED,
            Report.contact_email.is_not(None),
            Report.resolved_at <= now - after,
            ~_has_event(SENT),
        )
        .order_by(Report.resolved_at, Report.id)
        .limit(BATCH)
        .with_for_update(of=Report, skip_locked=True)
    ).all()
    ids = []
    for report in due:
        event = ReportEvent(
            report_id=report.id, kind=SENT, data={"by": "system", "to_email": True}, at=now
        )
        session.add(event)
        session.flush()
        email = outbox.queue_email(
            session,
            key=f"{EMAIL_KIND}:{report.id}",
            kind=EMAIL_KIND,
            recipient=report.contact_email or "",
            report_id=report.id,
            event_id=event.id,
        )
        if email is not None:
            ids.append(email)
    return ids


def asked(report: Report) -> bool:
    """Whether the reporter has been asked and has not answered yet."""
    kinds = {event.kind for event in report.events}
    return SENT in kinds and ANSWERED not in kinds


@dataclass(frozen=True)
class Answer:
    """What an answer did: the entry it recorded and whether it reopened the report."""

    event: ReportEvent
    reopened: bool


def answer(
    session: Session,
    report: Report,
    fixed: str,
    words: str | None,
    *,
    now: datetime,
    reopen_within: timedelta,
) -> Answer:
    """Record the reporter's answer ("fixed" or "not_fixed", with optional words), once; "not
    fixed" says "still a problem" through the workflow, which reopens a recent fix."""
    if fixed not in {"fixed", "not_fixed"}:
        raise InvalidInput({"fixed": "say whether it is fixed"})
    if not asked(report):
        raise InvalidInput({"fixed": "you have already answered, thank you"})
    text = (words or "").strip()
    if len(text) > workflow.MAX_NOTE_CHARS:
        raise InvalidInput({"words": f"must be at most {workflow.MAX_NOTE_CHARS} characters"})
    is_fixed = fixed == "fixed"
    event = ReportEvent(
        report_id=report.id,
        kind=ANSWERED,
        note=text or None,
        data={"by": "reporter", "fixed": is_fixed},
    )
    session.add(event)
    session.flush()
    reopened = False
    if not is_fixed:
        reopened = workflow.resident_says(
            session,
            report,
            workflow.ResidentSays.STILL_A_PROBLEM,
            None,
            now=now,
            reopen_within=reopen_within,
            data={"channel": "questionnaire"},
        ).reopened
    return Answer(event, reopened)


def compose_questionnaire(
    session: Session, row: EmailOutbox, settings: Settings
) -> outbox.Composed | None:
    """The question, unless the report was reopened or answered before the email went."""
    report = session.get(Report, row.report_id)
    if report is None or report.status is not ReportStatus.RESOLVED or not asked(report):
        return None
    base = settings.base_url.rstrip("/")
    link = base + tracking.tracking_path(settings.secret_key, report.reference) + "#is-it-fixed"
    subject, body = render_email("residents/email/questionnaire", report=report, link=link)
    return outbox.Composed(subject, body)


outbox.register_composer(EMAIL_KIND, compose_questionnaire)
