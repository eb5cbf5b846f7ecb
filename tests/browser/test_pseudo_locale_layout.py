"""The resident pages on a phone in the pseudo-locale, a third longer than English and
accented: none scrolls sideways, as a longer language must not make it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from safer_streets.db import make_session_factory, session_scope
from safer_streets.intake import tracking
from safer_streets.pseudo_locale import pseudo
from tests.browser.conftest import PHONE, page_width, screenshot

pytestmark = [pytest.mark.browser]

PAGES = [
    "/",
    "/report",
    "/report?category=street-lighting",
    "/report/{ref}/sent",
    "/track",
    "/track/{ref}",
    "{private}",
    "/around",
    "/alerts/new",
    "/you-said-we-did",
    "/privacy",
    "/no-such-page",
]

# The innermost elements reaching past a phone's width, outside boxes that scroll: what to fix.
WIDEST = """[...document.querySelectorAll('body *')]
  .filter(e => !e.closest('.table-scroll'))
  .filter(e => e.getBoundingClientRect().right > PHONE_WIDTH + 1
    && ![...e.children].some(c => c.getBoundingClientRect().right > PHONE_WIDTH + 1))
  .slice(0, 5)
  .map(e => `${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.trim().slice(0, 40)}`)
"""
WIDEST = WIDEST.replace("PHONE_WIDTH", str(PHONE["width"]))


def test_no_resident_page_scrolls_sideways_in_a_longer_language(
    phone: Page, server_url: str, engine, routed_report, settings
):
    with session_scope(make_session_factory(engine)) as session:
        reference = routed_report(session, category="fly-tipping").reference
    phone.goto(f"{server_url}/track")
    # The footer's switcher: a plain link, whose choice the next pages keep.
    phone.get_by_role("link", name=pseudo("English (pseudo-translated)")).click()
    expect(phone.locator("html")).to_have_attribute("lang", "en-001")

    too_wide = {}
    for n, page in enumerate(PAGES):
        address = page.format(
            ref=reference, private=tracking.tracking_path(settings.secret_key, reference)
        )
        phone.goto(server_url + address)
        expect(phone.locator("html")).to_have_attribute("lang", "en-001")
        if (width := page_width(phone)) > PHONE["width"]:
            too_wide[address] = (width, phone.evaluate(WIDEST))
        screenshot(phone, f"pseudo-locale-{n:02d}")
    assert too_wide == {}
