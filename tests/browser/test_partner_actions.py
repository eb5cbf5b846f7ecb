"""A partner publishes what it did about residents' reports, in headless Chromium; the resident
who made one of them sees it on their tracking page on a phone, and the harassment report it
also answered is counted but never named."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from safer_streets.db import make_session_factory, session_scope
from safer_streets.intake import tracking
from tests.browser.conftest import PHONE, page_width, screenshot
from tests.browser.test_resident_reporting import axe_violations
from tests.helpers import sign_in_page

pytestmark = pytest.mark.browser

OFFICER = "sergeant@snt.example"
TITLE = "New lighting on Rushey Green"


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page, as in a police office."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def test_a_partner_publishes_and_the_reporter_sees_it(
    desk: Page, phone: Page, server_url, engine, routed_report, make_user, settings
):
    with session_scope(make_session_factory(engine)) as session:
        dealing = routed_report(session, description="Dealing under the broken street lights")
        harassment = routed_report(session, category="harassment", description="Followed home")
        references = (dealing.reference, harassment.reference)
        partner = dealing.owner.slug
    make_user(OFFICER, partner, name="Sgt Patel")

    desk.goto(f"{server_url}/login")
    sign_in_page(desk, OFFICER)
    desk.locator("header").get_by_role("link", name="You said, we did").click()
    desk.get_by_role("link", name="Publish an action").click()

    desk.get_by_label("Title").fill(TITLE)
    desk.get_by_label("What was done").fill(
        "The council fixed six street lights between the station and the shops,\n"
        "and officers now patrol there on Friday and Saturday nights."
    )
    done = (datetime.now(UTC) - timedelta(days=3)).date()
    desk.get_by_label("Date done").fill(done.isoformat())
    desk.get_by_label("Where").select_option(label="Rushey Green")
    desk.get_by_label("Reports that prompted it").fill(f"{references[0]}\nLEW-ZZZZZ")
    desk.get_by_role("button", name="Publish").click()
    expect(desk.get_by_role("alert")).to_contain_text("No report LEW-ZZZZZ")
    expect(desk.get_by_label("Reports that prompted it")).to_have_attribute("aria-invalid", "true")
    desk.get_by_label("Reports that prompted it").fill("\n".join(references))
    desk.get_by_role("button", name="Publish").click()
    expect(desk.get_by_role("status")).to_contain_text("Published")
    expect(desk.get_by_role("link", name=TITLE)).to_be_visible()
    screenshot(desk, "actions-01-published")

    phone.goto(server_url + tracking.tracking_path(settings.secret_key, references[0]))
    section = phone.locator("#what-the-partnership-did")
    expect(section.get_by_role("heading", name="What the partnership did")).to_be_visible()
    expect(section.get_by_role("heading", name=TITLE)).to_be_visible()
    # Two reports prompted it; one harassment report is too few to count in public.
    expect(section).to_contain_text(re.compile(r"after 1 report\*"))
    expect(section).not_to_contain_text(references[1])
    assert page_width(phone) <= PHONE["width"]
    screenshot(phone, "actions-02-reporter-tracking-page")
    found = {"tracking page with an action": axe_violations(phone)}

    phone.goto(f"{server_url}/you-said-we-did")
    expect(phone.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(phone.locator("main")).not_to_contain_text(references[1])
    assert page_width(phone) <= PHONE["width"]
    found["you said, we did"] = axe_violations(phone)

    phone.goto(f"{server_url}/around?ward=rushey-green")
    actions = phone.locator("#partnership-actions")
    expect(actions.get_by_role("heading", name=TITLE)).to_be_visible()
    # The ward it was done in stands out on the map, and the map says why.
    expect(phone.get_by_text("Wards outlined in green")).to_be_visible()
    expect(phone.locator('#around-map path[stroke="#0b5c46"]')).to_have_count(1)
    assert page_width(phone) <= PHONE["width"]
    screenshot(phone, "actions-03-around")
    found["around with an action"] = axe_violations(phone)
    for name in ("Accessibility", "Contact us"):
        phone.locator("footer").get_by_role("link", name=name).click()
        assert page_width(phone) <= PHONE["width"]
        found[name] = axe_violations(phone)
    screenshot(phone, "actions-04-contact")
    assert all(not violations for violations in found.values()), found
