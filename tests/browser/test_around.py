"""The public map and list on a phone: no sideways scrolling, a list to read and follow, the
borough drawn with no map tiles, and no serious accessibility problems."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Page, expect

from safer_streets.db import make_session_factory, session_scope
from tests.browser.conftest import ARTIFACTS, PHONE, page_width, screenshot
from tests.browser.test_resident_reporting import axe_violations

pytestmark = [pytest.mark.browser]

TILES = re.compile(r"^https://tile\.openstreetmap\.org/")


@pytest.fixture
def public_reports(engine, routed_report) -> dict[str, str]:
    """Committed reports: two the public sees, one it never does."""
    with session_scope(make_session_factory(engine)) as session:
        made = {
            slug: routed_report(session, category=slug).reference
            for slug in ("fly-tipping", "drug-dealing", "harassment")
        }
    return made


def test_around_on_a_phone(phone: Page, server_url: str, public_reports):
    phone.route(TILES, lambda route: route.abort())  # no tiles: the outlines must do
    phone.goto(f"{server_url}/around")
    expect(phone.get_by_role("heading", name="2 reports")).to_be_visible()
    rows = phone.locator("#around-list li")
    expect(rows).to_have_count(2)
    assert public_reports["harassment"] not in phone.content()
    # The borough and ward outlines are drawn, and one pin per placed report.
    expect(phone.locator("#around-map path.leaflet-interactive")).to_have_count(2)
    # The outlines arrive separately (a cached GeoJSON): wait for them rather than race them.
    # (Polled from here: the page's CSP forbids the eval a polling predicate would need.)
    paths = phone.locator("#around-map svg path")
    deadline = time.monotonic() + 10
    while paths.count() < 2 + 20 and time.monotonic() < deadline:
        phone.wait_for_timeout(100)
    assert paths.count() >= 2 + 20
    screenshot(phone, "around-phone")
    assert page_width(phone) <= PHONE["width"]

    # The list works from the keyboard: filters, then each report's link.
    phone.get_by_text("Filter by problem, place, status and time").click()
    phone.get_by_label("Problem").select_option("fly-tipping")
    phone.get_by_role("button", name="Show reports").press("Enter")
    expect(phone.get_by_role("heading", name="1 report")).to_be_visible()
    link = phone.get_by_role("link", name=re.compile("Fly-tipping"))
    link.focus()
    phone.keyboard.press("Enter")
    phone.wait_for_url(re.compile(rf"/track/{public_reports['fly-tipping']}$"))

    phone.goto(f"{server_url}/around")
    found = {"around": axe_violations(phone)}
    phone.goto(f"{server_url}/alerts/new")
    found["alerts form"] = axe_violations(phone)
    (ARTIFACTS / "axe-around-pages.json").write_text(json.dumps(found, indent=2))
    assert found == {"around": [], "alerts form": []}
