"""The board as a member reads it on a phone and a laptop: a legend for every layer on the
map, no sideways scrolling, and charts that each have a name and a table of their numbers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PHONE, page_width, screenshot
from tests.browser.test_board import DESKTOP, board_data, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _page(browser: Browser, viewport: dict[str, int]) -> Page:
    context = browser.new_context(viewport=viewport, is_mobile=viewport == PHONE)
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
    return page


def _no_sideways_scroll(page: Page) -> None:
    # Against the viewport asked for: a phone widens its layout viewport to fit the page.
    wide = page_width(page)
    assert wide <= page.viewport_size["width"], f"the page is {wide} px wide"


def _layers_on_map(page: Page) -> list[str]:
    return page.evaluate(
        "Array.from(document.querySelectorAll("
        "'#map_board .leaflet-control-layers-overlays label'))"
        ".filter(l => l.querySelector('input').checked)"
        ".map(l => l.textContent.trim())"
    )


def _every_layer_has_a_visible_legend(page: Page) -> None:
    shown = _layers_on_map(page)
    assert shown
    for name in shown:
        expect(page.locator(f'#map-legends section[data-layer="{name}"]')).to_be_visible()
    sections = page.locator("#map-legends section:visible")
    assert sections.count() == len(shown)


def _every_chart_has_a_name_and_a_table(page: Page) -> int:
    charts = page.locator("svg.chart")
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.get_attribute("role") == "img"
        assert (chart.get_attribute("aria-label") or "").strip()
        figure = chart.locator("xpath=ancestor::figure[1]")
        assert figure.locator("table").count() == 1
    return charts.count()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1366"])
def test_legends_layout_and_charts(browser, server_url, board_data, viewport):  # noqa: F811
    page = _page(browser, viewport)
    size = viewport["width"]
    sign_in(page, server_url)
    expect(page.locator("#map_board.leaflet-container")).to_be_visible()
    expect(page.locator("#map-legends section").first).to_be_attached()
    _every_layer_has_a_visible_legend(page)
    _no_sideways_scroll(page)
    screenshot(page, f"board-legends-{size}")

    # Layers off by default bring their legends when ticked, and take them away again.
    control = page.locator("#map_board .leaflet-control-layers")
    if size < 600:
        # On a phone the layers control starts folded so that it does not cover the map.
        expect(control.locator(".leaflet-control-layers-list")).to_be_hidden()
        control.locator(".leaflet-control-layers-toggle").click()
    for name in ("Kernel density (heat)", "Emerging hot spots", "Reports per 1,000 residents"):
        label = control.get_by_text(name, exact=True)
        if label.count():
            label.click()
    rates = page.locator('#map-legends section[data-layer="Reports per 1,000 residents"]')
    expect(rates).to_be_visible()
    # Rates replace counts on the wards rather than being drawn over them.
    expect(page.locator('#map-legends section[data-layer="Reports per ward"]')).to_be_hidden()
    assert "Reports per ward" not in _layers_on_map(page)
    _every_layer_has_a_visible_legend(page)
    expect(rates).to_contain_text("poor denominator in town centres")
    screenshot(page, f"board-legends-more-{size}")

    page.get_by_role("link", name="Trends").click()
    expect(
        page.get_by_role("heading", name=re.compile("against the previous period"))
    ).to_be_visible()
    assert _every_chart_has_a_name_and_a_table(page) >= 3
    expect(page.locator("#time-profile")).to_be_visible()
    _no_sideways_scroll(page)
    screenshot(page, f"board-trends-{size}")

    page.get_by_role("link", name="Partner performance").click()
    # Breaches always; median times only once some report has been acknowledged or resolved.
    assert _every_chart_has_a_name_and_a_table(page) >= 1
    _no_sideways_scroll(page)
    screenshot(page, f"board-partners-{size}")
    assert page.violations == []  # type: ignore[attr-defined]
    page.context.close()
