"""The reporter's private link on a phone: add information, then say "still a problem" on a
report that was resolved, which reopens it; and "is it fixed?" answered from its email."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from safer_streets.db import make_session_factory, session_scope
from safer_streets.intake import tracking
from safer_streets.models import Report, ReportEvent, ReportStatus
from safer_streets.residents import questionnaire
from tests.browser.conftest import PHONE, page_width, screenshot
from tests.browser.test_resident_reporting import axe_violations
from tests.helpers import body_of
from tests.residents.test_alerts import send_all

pytestmark = [pytest.mark.browser]

REPORTER = "reporter@example.org"


def test_the_reporter_tells_the_team_more_and_reopens_a_fix(
    phone: Page, server_url: str, engine, routed_report, settings
):
    with session_scope(make_session_factory(engine)) as session:
        report = routed_report(session, category="fly-tipping")
        reference = report.reference
    phone.goto(server_url + tracking.tracking_path(settings.secret_key, reference))

    phone.get_by_label("Add information").fill("Another pile appeared this morning")
    phone.get_by_role("button", name="Send information").click()
    expect(phone.get_by_role("status")).to_contain_text("can now read this")
    screenshot(phone, "reporter-link-added")

    with session_scope(make_session_factory(engine)) as session:
        stored = session.scalars(select(Report).where(Report.reference == reference)).one()
        notes = session.scalars(
            select(ReportEvent.note).where(
                ReportEvent.report_id == stored.id, ReportEvent.kind == "resident_information"
            )
        ).all()
        assert notes == ["Another pile appeared this morning"]
        # A partner resolved it last week.
        stored.status = ReportStatus.RESOLVED
        stored.acknowledged_at = datetime.now(UTC) - timedelta(days=8)
        stored.resolved_at = datetime.now(UTC) - timedelta(days=7)

    phone.reload()
    phone.get_by_role("button", name="It is still a problem").click()
    expect(phone.get_by_role("status")).to_contain_text("open again")
    screenshot(phone, "reporter-link-reopened")
    assert page_width(phone) <= PHONE["width"]
    assert axe_violations(phone) == []

    with session_scope(make_session_factory(engine)) as session:
        stored = session.scalars(select(Report).where(Report.reference == reference)).one()
        assert stored.status is ReportStatus.IN_PROGRESS


def test_is_it_fixed_from_the_email_on_a_phone(
    phone: Page, server_url: str, engine, routed_report, settings, mailbox
):
    mailbox.clear()
    with session_scope(make_session_factory(engine)) as session:
        report = routed_report(session, category="fly-tipping", contact_email=REPORTER)
        report.status = ReportStatus.RESOLVED
        report.acknowledged_at = datetime.now(UTC) - timedelta(days=31)
        report.resolved_at = datetime.now(UTC) - timedelta(days=30)
        session.flush()
        questionnaire.queue_questionnaires(session, datetime.now(UTC), after=timedelta(days=28))
        reference = report.reference
    with session_scope(make_session_factory(engine)) as session:
        send_all(session, settings)
    (mail,) = mailbox.to(REPORTER)
    link = re.search(r"http://safer-streets\.test(/track/\S+)", body_of(mail)).group(1)

    phone.goto(server_url + link)
    expect(phone.get_by_role("heading", name="Is it fixed?")).to_be_visible()
    phone.get_by_label("No, it is not fixed").check()
    phone.get_by_label("Anything to add (optional)").first.fill("Bags are back")
    screenshot(phone, "questionnaire-phone")
    phone.get_by_role("button", name="Send answer").click()
    expect(phone.get_by_role("status")).to_contain_text("open again")
    expect(phone.get_by_role("heading", name="Is it fixed?")).to_have_count(0)

    with session_scope(make_session_factory(engine)) as session:
        stored = session.scalars(select(Report).where(Report.reference == reference)).one()
        assert stored.status is ReportStatus.IN_PROGRESS
