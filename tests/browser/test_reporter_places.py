"""On a phone, the reporter of a report whose typed place could not be found puts it on the
map from their private link."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from safer_streets.db import make_session_factory, session_scope
from safer_streets.intake import tracking
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import PlacedFrom, Report, ReportStatus
from safer_streets.routing import processing
from tests.browser.conftest import PHONE, page_width, screenshot
from tests.browser.test_resident_reporting import axe_violations

pytestmark = [pytest.mark.browser]


def test_the_reporter_taps_the_map_to_place_their_report(
    phone: Page, server_url: str, engine, settings, ward_index, places
):
    with session_scope(make_session_factory(engine)) as session:
        submission = parse_submission(
            {"category": "fly-tipping", "location_text": "by the big tree", "description": "Sofa"}
        )
        report, _ = submit_report(session, submission, places=places)
        processing.process_reports(session, [report.id], ward_index, places)
        assert report.status is ReportStatus.NEEDS_LOCATION
        reference = report.reference
    phone.goto(server_url + tracking.tracking_path(settings.secret_key, reference))
    expect(
        phone.get_by_role("heading", name="Where is it? Please put it on the map")
    ).to_be_visible()
    button = phone.get_by_role("button", name="Put my report here")
    expect(button).to_be_disabled()
    # No map tiles in the tests: the borough and its 19 wards are what there is to aim for.
    expect(phone.locator("#place-map .leaflet-overlay-pane path")).to_have_count(20)
    phone.locator("#place-map").click()  # the middle of the map: central Lewisham
    expect(button).to_be_enabled()
    screenshot(phone, "reporter-places-pin")
    assert page_width(phone) <= PHONE["width"]
    assert axe_violations(phone) == []
    button.click()
    expect(phone.get_by_role("status").first).to_contain_text("on the map")
    expect(phone.get_by_text("The reporter placed it on the map.")).to_be_visible()

    with session_scope(make_session_factory(engine)) as session:
        stored = session.scalars(select(Report).where(Report.reference == reference)).one()
        assert stored.status is ReportStatus.RECEIVED
        assert stored.placed_from == PlacedFrom.REPORTER
        assert stored.location is not None


def test_a_typed_street_is_drawn_as_its_outline_not_a_pin(
    phone: Page, server_url: str, engine, ward_index, places
):
    with session_scope(make_session_factory(engine)) as session:
        submission = parse_submission(
            {"category": "fly-tipping", "location_text": "Catford Broadway", "description": "Bags"}
        )
        report, _ = submit_report(session, submission, places=places)
        processing.process_reports(session, [report.id], ward_index, places)
        reference = report.reference
    phone.goto(f"{server_url}/track/{reference}")
    expect(phone.get_by_text("Somewhere on Catford Broadway").first).to_be_visible()
    overlay = phone.locator("#area-map .leaflet-overlay-pane path")
    expect(overlay).to_have_count(1)
    # A polygon's path closes; a circle marker's is two arcs.
    assert overlay.get_attribute("d").rstrip().endswith("z")
    screenshot(phone, "typed-street-outline")


def test_the_report_form_map_shows_the_borough_and_its_wards_without_tiles(
    phone: Page, server_url: str
):
    phone.goto(server_url + "/report")
    expect(phone.locator("#report-map .leaflet-overlay-pane path")).to_have_count(20)
    phone.locator("#report-map").click()  # the outlines never take the tap from the map
    expect(phone.locator("#report-map .leaflet-marker-icon")).to_have_count(1)
