"""The safety board in a real browser: the map, its layers and controls, the filters, the pack."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from geo import projection
from geo.suntimes import LONDON
from geo.wards import Borough, WardIndex
from safer_streets.board import runs
from safer_streets.board.filters import default_filters
from safer_streets.cli import POLICE_SAMPLE
from safer_streets.data import police
from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import Role
from tests.board_data import CATFORD, add_reports, around, scattered
from tests.browser.conftest import screenshot
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def desktop(browser, request) -> Page:
    """A laptop-sized page that drops map tile requests (there is no internet here)."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.route(re.compile(r"^https://tile\.openstreetmap\.org/"), lambda route: route.abort())
    page.violations = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda m: (
            page.violations.append(m.text)  # type: ignore[attr-defined]
            if "Content Security Policy" in m.text
            else None
        ),
    )
    yield page
    context.close()


@pytest.fixture
def board_data(engine, make_user):
    """Reports with a Catford cluster, recorded burglary, and the runs the worker would store."""
    make_user("chair@board.test", None, Role.BOARD)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        add_reports(session, "fly-tipping", scattered(250), owner="lewisham-environment")
        add_reports(session, "drug-dealing", around(CATFORD, 60), owner="met-snt-rushey-green")
        add_reports(session, "street-lighting", scattered(40, seed=4), owner="lewisham-highways")
        with POLICE_SAMPLE.open(newline="") as f:
            places = police.CrimePlaces(Borough.from_geojson().geometry, WardIndex.from_geojson())
            police.import_street_csv(session, f, name="burglary", places=places)
    today = datetime.now(UTC).astimezone(LONDON).date()
    for filters in (
        default_filters(today),
        replace(default_filters(today), category="fly-tipping"),
    ):
        with session_scope(factory) as session:
            run = runs.create_run(
                session, runs.RunParameters.from_filters(filters, permutations=99, seed=3)
            )
        with session_scope(factory) as session:
            runs.compute_run(session, run.id, study_area=projection.read_boundary())


def sign_in(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/login?next=/board")
    page.get_by_label("Email").fill("chair@board.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Safety board")).to_be_visible()


def drawn_paths(page: Page) -> int:
    return page.locator("#map_board .leaflet-overlay-pane path").count()


def test_the_board_map_loads_with_its_layers_and_the_filters_change_it(
    desktop, server_url, board_data
):
    page = desktop
    sign_in(page, server_url)
    container = page.locator("#map_board.leaflet-container")
    expect(container).to_be_visible()
    layers = page.locator("#map_board .leaflet-control-layers")
    for name in (
        "Reports per ward",
        "Kernel density (heat)",
        "Emerging hot spots",
        "Hot and cold spots (Gi*, FDR)",
        "Town centres",
        "Reports (points)",
    ):
        expect(layers.get_by_text(name, exact=True)).to_be_visible()
    crime_layer = layers.get_by_text(re.compile(r"Burglary, police\.uk, \w{3} \d{4} to "))
    expect(crime_layer).to_be_visible()
    expect(page.locator("#run-info")).to_contain_text("Hotspot run")
    all_paths = drawn_paths(page)
    assert all_paths > 19  # wards, town centres and hot cells
    screenshot(page, "board-01-map")

    # Catford town centre is one click away.
    zoom_before = page.evaluate("map_board.getZoom()")
    page.locator("#map_board .board-areas").get_by_role("button", name="Catford").click()
    # Polled from here: the page's CSP forbids the eval that wait_for_function would use.
    for _ in range(50):
        if page.evaluate("map_board.getZoom()") > zoom_before:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("map_board.getZoom()") > zoom_before
    centre = page.evaluate("[map_board.getCenter().lng, map_board.getCenter().lat]")
    assert abs(centre[0] - CATFORD[0]) < 0.01 and abs(centre[1] - CATFORD[1]) < 0.01

    # Layers off by default load when ticked: recorded crime is fetched from the board.
    crime_layer.click()
    page.wait_for_selector("#map_board[data-loaded-crime]", state="attached")
    assert int(container.get_attribute("data-loaded-crime")) > 0
    layers.get_by_text("Kernel density (heat)", exact=True).click()
    assert drawn_paths(page) > all_paths
    screenshot(page, "board-02-catford-crime-density")

    total_all = page.locator("#total-reports").inner_text()
    assert total_all == "350"
    page.get_by_label("Category", exact=True).select_option("fly-tipping")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"category=fly-tipping"))
    expect(page.locator("#total-reports")).to_have_text("250")
    expect(page.locator("#map_board.leaflet-container")).to_be_visible()
    expect(page.locator("#map_board .leaflet-control-layers")).to_be_visible()
    expect(page.get_by_label("Category", exact=True)).to_have_value("fly-tipping")

    page.get_by_label("Time of day").select_option("after-dark")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#run-info")).to_contain_text("No hotspot run for these filters yet")
    expect(
        page.locator("#map_board .leaflet-control-layers").get_by_text(
            "Hot and cold spots (Gi*, FDR)", exact=True
        )
    ).to_have_count(0)
    screenshot(page, "board-03-filtered")
    assert page.violations == []  # type: ignore[attr-defined]


def test_the_board_pack_prints_on_a4(desktop, server_url, board_data):
    page = desktop
    sign_in(page, server_url)
    page.goto(f"{server_url}/board/pack")
    expect(page.locator("#map_board.leaflet-container")).to_be_visible()
    expect(page.get_by_role("heading", name="Partner performance")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator(".pack-actions")).to_be_hidden()
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 3 <= pages <= 12
    boxes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf))
    assert boxes == {(b"595.91998", b"842.88")} or all(
        abs(float(w) - 595.9) < 1 and abs(float(h) - 842.9) < 1 for w, h in boxes
    )
    screenshot(page, "board-04-pack")
    assert page.violations == []  # type: ignore[attr-defined]
