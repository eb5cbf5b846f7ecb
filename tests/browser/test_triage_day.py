"""A council officer's day in the triage queue, in headless Chromium: sign in, filter to
Rushey Green, acknowledge, post a public update, re-route a report, export CSV; then the
resident's tracking page shows the public update and not the internal note."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from safer_streets.db import make_session_factory, session_scope
from tests.browser.conftest import screenshot
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

RUSHEY_GREEN = {"lat": 51.4452, "lon": -0.0207}
LEWISHAM_CENTRAL = {"lat": 51.4620, "lon": -0.0130}
OFFICER = "officer@community-safety.example"


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page, as in a council office."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def test_a_days_work_in_the_queue(desk, server_url, engine, routed_report, make_user):
    with session_scope(make_session_factory(engine)) as session:
        unsafe = routed_report(
            session,
            category="feeling-unsafe",
            description="The underpass by the station is dark and people hang about",
            contact_email="resident@example.org",
            **RUSHEY_GREEN,
        ).reference
        lighting = routed_report(
            session,
            category="feeling-unsafe",
            description="Two street lights out on the path by the library",
            **{"lat": 51.4448, "lon": -0.0215},
        ).reference
        elsewhere = routed_report(
            session, category="feeling-unsafe", description="Lewisham centre", **LEWISHAM_CENTRAL
        ).reference
    make_user(OFFICER, "lewisham-community-safety", name="Sam Officer")

    desk.goto(f"{server_url}/triage")
    desk.get_by_label("Email").fill(OFFICER)
    desk.get_by_label("Password").fill(PASSWORD)
    desk.get_by_role("button", name="Sign in").click()
    expect(desk.get_by_role("link", name=elsewhere)).to_be_visible()

    desk.get_by_label("Ward").select_option(label="Rushey Green")
    desk.get_by_role("button", name="Apply filters").click()
    expect(desk.get_by_role("link", name=unsafe)).to_be_visible()
    expect(desk.get_by_role("link", name=elsewhere)).to_have_count(0)
    expect(desk.locator("#queue-map .leaflet-interactive")).to_have_count(2)
    expect(desk.locator("#queue-map-hint")).to_be_hidden()  # both of the two are shown
    screenshot(desk, "triage-01-queue-filtered")

    desk.get_by_role("link", name=unsafe).click()
    desk.get_by_label("Status").select_option(label="Acknowledge")
    desk.get_by_label("Internal note").fill("Rang the station manager about the underpass")
    desk.get_by_label("Public update").fill(
        "We have asked for the underpass lighting to be checked."
    )
    desk.get_by_role("button", name="Save changes").click()
    expect(desk.get_by_role("status")).to_contain_text(f"{unsafe} is now acknowledged")
    history = desk.locator(".history")
    expect(history).to_contain_text("Rang the station manager")
    expect(history).to_contain_text("by Sam Officer (Lewisham Council Community Safety)")
    screenshot(desk, "triage-02-report-worked")

    desk.goto(f"{server_url}/triage/reports/{lighting}")
    desk.get_by_text("Re-route to another partner").click()
    desk.get_by_label("Send to").select_option(label="Lewisham Council Highways")
    desk.get_by_label("Why").fill("Broken street lights: a highways repair")
    desk.get_by_role("button", name="Re-route").click()
    expect(desk.get_by_role("status")).to_contain_text(f"{lighting} was re-routed")
    expect(desk.get_by_role("link", name=lighting)).to_have_count(0)

    desk.goto(f"{server_url}/triage?ward=rushey-green")
    with desk.expect_download() as download_info:
        desk.get_by_role("link", name="Download these as CSV").click()
    rows = list(csv.DictReader(io.StringIO(download_info.value.path().read_text())))
    assert [row["reference"] for row in rows] == [unsafe]
    assert rows[0]["status"] == "acknowledged" and rows[0]["public_updates"] == "1"

    desk.goto(f"{server_url}/track/{unsafe}")
    expect(desk.get_by_text("We have asked for the underpass lighting")).to_be_visible()
    expect(desk.get_by_text("Rang the station manager")).to_have_count(0)
    screenshot(desk, "triage-03-resident-tracking")
