"""The queue's map as an officer sees it: markers loaded after the list, a report typed as a
street drawn dashed as the legend says, the hint saying how many of the matches the map shows,
and a plain word when the markers cannot be loaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from safer_streets.casework import queues
from safer_streets.db import make_session_factory, session_scope
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.places import Places
from safer_streets.routing import processing
from tests.browser.conftest import PHONE, screenshot
from tests.helpers import sign_in_page

pytestmark = pytest.mark.browser

SERGEANT = "sgt.map@rg.example"
LAPTOP = {"width": 1366, "height": 900}


@pytest.fixture
def three_reports(engine, routed_report, make_user, ward_index) -> None:
    """Two reports at pins and one typed as a street, all for the Rushey Green team."""
    with session_scope(make_session_factory(engine)) as session:
        # Away from Catford Broadway, so that its marker is not under theirs.
        routed_report(session, lat=51.4500, lon=-0.0150, description="Dealing at the corner")
        routed_report(session, lat=51.4490, lon=-0.0165, description="Dealing by the shops")
        typed = parse_submission(
            {
                "category": "drug-dealing",
                "location_text": "Catford Broadway",
                "description": "Dealing somewhere along the market",
            }
        )
        report, _ = submit_report(session, typed, places=Places.default())
        processing.process_reports(session, [report.id], ward_index, Places.default())
    make_user(SERGEANT, "met-snt-rushey-green", name="Sgt Map")


@pytest.fixture(params=[PHONE, LAPTOP], ids=["390", "1366"])
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=request.param)
    yield context.new_page()
    context.close()


def open_queue(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/login?next=/triage")
    sign_in_page(page, SERGEANT)
    expect(page.locator("table.queue")).to_be_visible()


def test_the_markers_come_after_the_list_and_a_typed_street_is_dashed(
    page: Page, server_url, three_reports
):
    open_queue(page, server_url)
    markers = page.locator("#queue-map path.leaflet-interactive")
    expect(markers).to_have_count(3)
    expect(
        page.locator('#queue-map path.leaflet-interactive[stroke-dasharray="3 3"]')
    ).to_have_count(1)
    expect(
        page.get_by_text("Dashed: somewhere on a street or place the resident typed")
    ).to_be_visible()
    expect(page.locator("#queue-map-hint")).to_be_hidden()  # all three are on the map
    width = page.viewport_size["width"]
    screenshot(page, f"queue-map-{width}")

    page.locator('#queue-map path.leaflet-interactive[stroke-dasharray="3 3"]').click(force=True)
    expect(page.locator(".leaflet-popup")).to_contain_text("Somewhere on Catford Broadway")


def test_the_hint_says_how_many_of_the_matches_the_map_shows(
    page: Page, server_url, three_reports, monkeypatch
):
    monkeypatch.setattr(queues, "MAP_LIMIT", 2)
    open_queue(page, server_url)
    expect(page.locator("#queue-map path.leaflet-interactive")).to_have_count(2)
    expect(page.locator("#queue-map-hint")).to_have_text(
        "The map shows 2 of these 3 reports, the first in this order."
    )


def test_markers_that_cannot_be_loaded_are_said_to_be_missing(
    page: Page, server_url, three_reports
):
    page.route("**/triage/map.json*", lambda route: route.fulfill(status=500, body="down"))
    open_queue(page, server_url)
    expect(page.locator("#queue-map-hint")).to_have_text(
        "The markers could not be loaded; the list below is not affected."
    )
    expect(page.locator("table.queue tbody tr")).to_have_count(3)
