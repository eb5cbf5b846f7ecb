"""The triage queue and a report on a patrol officer's phone: each queue row is a card that
fits the screen, and the report page offers directions to the report's exact point."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import Report
from tests.browser.conftest import PHONE, page_width, screenshot
from tests.helpers import sign_in_page

pytestmark = pytest.mark.browser

OFFICER = "pc.patrol@rg.example"
LONG_WORDS = (
    "Group dealing from a car parked outside the bookmakers every evening, "
    "engine running, and a queue of people walking up to the window "
) * 3


@pytest.fixture
def reports(engine, routed_report, make_user) -> list[tuple[str, float, float]]:
    """Two reports for the Rushey Green team, each with its reference and exact point."""
    made = []
    with session_scope(make_session_factory(engine)) as session:
        for lat, lon in ((51.4452, -0.0207), (51.4446, -0.0213)):
            report = routed_report(session, lat=lat, lon=lon, description=LONG_WORDS)
            point = session.execute(
                select(func.ST_Y(Report.location), func.ST_X(Report.location)).where(
                    Report.id == report.id
                )
            ).one()
            made.append((report.reference, point[0], point[1]))
    make_user(OFFICER, "met-snt-rushey-green", name="PC Patrol")
    return made


def open_queue(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/login?next=/triage")
    sign_in_page(page, OFFICER)  # a police account: two-step sign-in, set up the first time
    expect(page.locator("table.queue")).to_be_visible()


def test_queue_rows_are_cards_on_a_phone_and_the_report_gives_directions(
    phone: Page, server_url, reports
):
    open_queue(phone, server_url)
    assert page_width(phone) <= PHONE["width"], "no sideways scrolling"
    for reference, _lat, _lon in reports:
        link = phone.get_by_role("link", name=reference)
        expect(link).to_be_visible()
        card = phone.locator("table.queue tbody tr").filter(has=link)
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert card.evaluate("row => getComputedStyle(row).display") == "block"
        for cell in ("Status", "Received", "Due"):
            labelled = card.locator(f'td[data-label="{cell}"]')
            expect(labelled).to_be_visible()
            heading = labelled.evaluate("td => getComputedStyle(td, '::before').content")
            assert heading == f'"{cell}: "' or cell in heading, heading
        expect(card).to_contain_text("Drug dealing")
        expect(card).to_contain_text("Group dealing from a car")
    screenshot(phone, "triage-queue-390-cards")

    reference, lat, lon = reports[0]
    phone.get_by_role("link", name=reference).click()
    directions = phone.get_by_role("link", name="Directions", exact=True)
    expect(directions).to_be_visible()
    point = f"{lat:.6f},{lon:.6f}"
    assert directions.get_attribute("href") == f"geo:{point}?q={point}"
    web = phone.get_by_role("link", name="Directions on OpenStreetMap")
    assert web.get_attribute("href").endswith(f"route=%3B{lat:.6f}%2C{lon:.6f}")
    assert page_width(phone) <= PHONE["width"]
    screenshot(phone, "triage-report-390-directions")


def test_the_queue_stays_a_table_on_a_laptop(browser: Browser, server_url, reports):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        open_queue(page, server_url)
        for heading in ("Reference", "Status", "Received", "Due"):
            expect(page.get_by_role("columnheader", name=heading)).to_be_visible()
        expect(page.get_by_role("row")).to_have_count(len(reports) + 1)
        assert page_width(page) <= 1366
    finally:
        context.close()
