"""On a phone, the resident reads what will be public for the category they chose."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import page_width, screenshot
from tests.browser.test_resident_reporting import axe_violations, resident, resident_without_js

pytestmark = [pytest.mark.browser]
__all__ = ["resident", "resident_without_js"]  # fixtures shared with the reporting tests


def test_only_the_chosen_categorys_words_show_with_javascript(resident: Page, server_url):
    resident.goto(f"{server_url}/report")
    words = resident.locator("#what-is-public")
    expect(words.get_by_text("Choose what the problem is")).to_be_visible()
    expect(words.get_by_text("never shown to the public")).to_be_hidden()

    resident.get_by_label("Weapons").check()
    expect(
        words.get_by_text(re.compile("^This report is never shown to the public"))
    ).to_be_visible()
    expect(words.get_by_text("The public map shows the spot you choose.")).to_be_hidden()
    words.scroll_into_view_if_needed()
    screenshot(resident, "what-is-public-01-weapons")

    resident.get_by_label("Fly-tipping").check()
    expect(words.get_by_text("The public map shows the spot you choose.")).to_be_visible()
    expect(words.get_by_text("never shown to the public")).to_be_hidden()
    assert not axe_violations(resident)


def test_without_javascript_each_group_of_categories_can_be_opened(
    resident_without_js: Page, server_url
):
    page = resident_without_js
    page.goto(f"{server_url}/report")
    groups = page.locator("#what-is-public details")
    expect(groups).to_have_count(3)
    page.locator("#what-is-public summary", has_text="Drug dealing").click()
    expect(page.get_by_text(re.compile("^Your description stays private"))).to_be_visible()
    screenshot(page, "what-is-public-02-no-js")


def test_the_privacy_page_reads_on_a_phone(resident: Page, server_url):
    resident.goto(f"{server_url}/report")
    resident.get_by_role("link", name="Privacy: who sees your report").click()
    expect(resident.get_by_role("heading", name="Who sees your report", exact=True)).to_be_visible()
    weapons = resident.get_by_role("row", name=re.compile("^Weapons"))
    expect(weapons.get_by_role("cell").first).to_have_text("No")
    # Wide tables scroll inside their own box; the page itself never scrolls sideways.
    assert page_width(resident) <= 390
    screenshot(resident, "what-is-public-03-privacy")
    assert not axe_violations(resident)
