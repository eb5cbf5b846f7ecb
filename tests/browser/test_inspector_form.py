"""The inspector form in headless Chromium, on a phone and on an office screen: one submit
acknowledges, assigns, sets the priority and posts a public update; the phone never scrolls
sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from safer_streets.db import make_session_factory, session_scope
from tests.browser.conftest import PHONE, page_width, screenshot
from tests.helpers import sign_in_page

pytestmark = pytest.mark.browser

SERGEANT = "sgt@rg.example"


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1366, "height": 900}], ids=["390", "1366"])
def test_one_submit_works_the_report(
    browser: Browser, viewport, server_url, engine, routed_report, make_user
):
    with session_scope(make_session_factory(engine)) as session:
        reference = routed_report(session, contact_email="resident@example.org").reference
    make_user(SERGEANT, "met-snt-rushey-green", name="Sgt Amira Khan")
    make_user("pc.jones@rg.example", "met-snt-rushey-green", name="PC Dan Jones")
    context = browser.new_context(viewport=viewport, is_mobile=viewport == PHONE)
    page = context.new_page()
    try:
        page.goto(f"{server_url}/login?next=/triage/reports/{reference}")
        sign_in_page(page, SERGEANT)  # and the second step police and admins take

        page.get_by_label("Status").select_option(label="Acknowledge")
        page.get_by_label("Assigned to").select_option(label="PC Dan Jones")
        page.get_by_label("Priority").select_option(label="High")
        page.get_by_label("Public update").fill("Officers will patrol Catford Broadway tonight.")
        page.get_by_label("Internal note").fill("Known location, see briefing")
        assert page_width(page) <= viewport["width"]
        screenshot(page, f"inspector-{viewport['width']}-filled")
        page.get_by_role("button", name="Save changes").click()

        status = page.get_by_role("status")
        expect(status).to_contain_text(f"{reference} is now acknowledged")
        expect(status).to_contain_text("assigned to PC Dan Jones")
        expect(status).to_contain_text("high priority")
        summary = page.locator(".summary")
        expect(summary).to_contain_text("PC Dan Jones")
        expect(summary).to_contain_text("high")
        history = page.locator(".history")
        expect(history).to_contain_text("Officers will patrol Catford Broadway tonight.")
        expect(history).to_contain_text("Known location, see briefing")
        assert page_width(page) <= viewport["width"]
        screenshot(page, f"inspector-{viewport['width']}-saved")
    finally:
        context.close()
