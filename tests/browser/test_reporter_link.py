"""The reporter's private link on a phone: add information, then say "still a problem" on a
report that was resolved, which reopens it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from safer_streets.db import make_session_factory, session_scope
from safer_streets.intake import tracking
from safer_streets.models import Report, ReportEvent, ReportStatus
from tests.browser.conftest import screenshot
from tests.browser.test_resident_reporting import axe_violations

pytestmark = [pytest.mark.browser]


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
    width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"scrolls sideways: {width}"
    # The forms and notices added for the reporter; the small map's own finding (controls
    # inside role="img") is the tracking page's, reported by its own test.
    assert [v for v in axe_violations(phone) if v["nodes"] != [["#area-map"]]] == []

    with session_scope(make_session_factory(engine)) as session:
        stored = session.scalars(select(Report).where(Report.reference == reference)).one()
        assert stored.status is ReportStatus.IN_PROGRESS
