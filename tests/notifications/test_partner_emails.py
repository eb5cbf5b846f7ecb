"""Emails to partners carry only what may leave our systems: never the reporter's contact or
words, and for a sensitive report not its place or staff's reasons either (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.casework import workflow
from safer_streets.models import EmailOutbox, Role
from safer_streets.notifications import outbox
from tests.helpers import PASSWORD, PASSWORDS, body_of

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
RESIDENT = "resident@example.org"
WORDS = "The man from flat 3 shouts at me every evening"
REASON = "She lives at 14 Example Street, flat 2, so the council's team should lead"


def new_report_bodies(session, settings, report) -> list[str]:
    rows = session.scalars(
        select(EmailOutbox).where(
            EmailOutbox.report_id == report.id, EmailOutbox.kind == outbox.Kind.NEW_REPORT
        )
    ).all()
    # An email queued for a partner the report has since left is never sent (compose: None).
    messages = (outbox.compose(session, row, settings) for row in rows)
    return [body_of(message) for message in messages if message is not None]


def rerouted(session, report, reason):
    sergeant = users.create_user(
        session,
        passwords=PASSWORDS,
        email="sgt@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=report.owner.slug,
    )
    workflow.reroute(session, sergeant, report, "lewisham-community-safety", reason, now=NOW)
    session.flush()
    return report


def test_a_sensitive_reports_email_to_its_partner_holds_no_place_words_or_internal_reason(
    db_session, routed_report, settings
):
    report = routed_report(
        db_session,
        category="harassment",
        description=WORDS,
        contact_email=RESIDENT,
        anonymous=False,
    )
    assert report.street
    rerouted(db_session, report, REASON)

    bodies = new_report_bodies(db_session, settings, report)
    assert bodies
    for body in bodies:
        assert report.reference in body and "/triage/reports/" in body
        assert report.street not in body
        assert WORDS not in body and RESIDENT not in body
        assert "14 Example Street" not in body
        assert "Rushey Green" in body, "the ward is enough to know it is theirs"
        assert "each view is recorded in the access log" in body


def test_an_environmental_reports_email_names_the_street_but_not_the_reporter(
    db_session, routed_report, settings
):
    report = routed_report(
        db_session,
        category="fly-tipping",
        description=WORDS,
        contact_email=RESIDENT,
        anonymous=False,
    )
    bodies = new_report_bodies(db_session, settings, report)
    assert bodies
    for body in bodies:
        assert report.street in body
        assert WORDS not in body and RESIDENT not in body
