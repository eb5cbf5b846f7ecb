"""An administrator adds a reason, is told what is wrong with a bad one first, and residents are
then offered it on the report form; the reasons page has no serious accessibility problems."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import text

from safer_streets.models import Role
from tests.browser.conftest import ARTIFACTS, PHONE, screenshot
from tests.browser.test_resident_reporting import axe_violations
from tests.helpers import sign_in_page

pytestmark = [pytest.mark.browser]


def test_a_reason_an_admin_adds_is_offered_to_residents(
    phone, browser: Browser, server_url, live_app, make_user, engine
):
    make_user("admin@reasons.example", None, Role.ADMIN)
    try:
        phone.goto(f"{server_url}/admin")
        sign_in_page(phone, "admin@reasons.example")
        phone.get_by_role("link", name="Reasons", exact=True).first.click()
        expect(phone.get_by_role("heading", name="Reasons", exact=True)).to_be_visible()

        phone.get_by_label("Category").select_option("feeling-unsafe")
        phone.get_by_label("Key").fill("badly-lit")
        phone.get_by_label("Words residents see").fill("Poor sightlines at a corner")
        phone.get_by_label("Why this change?").fill("Asked for at the ward panel")
        phone.get_by_role("button", name="Add reason").click()
        summary = phone.locator("#error-summary")
        expect(summary).to_contain_text("already has a reason with the key")
        found = {"reasons page with errors": axe_violations(phone)}
        summary.get_by_role("link").click()
        expect(phone.get_by_label("Key")).to_be_focused()

        phone.get_by_label("Key").fill("poor-sightlines")
        phone.get_by_label("Help text (optional)").fill("You cannot see round the corner.")
        phone.get_by_label("Why this change?").fill("Asked for at the ward panel")
        phone.get_by_role("button", name="Add reason").click()
        expect(phone.get_by_role("status").first).to_contain_text("is now offered to residents")
        expect(phone.get_by_role("heading", name="Poor sightlines at a corner")).to_be_visible()
        found["reason page"] = axe_violations(phone)
        screenshot(phone, "admin-reason-added")
        (ARTIFACTS / "axe-admin-reasons.json").write_text(json.dumps(found, indent=2))
        assert found == {"reasons page with errors": [], "reason page": []}

        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        resident = context.new_page()
        try:
            resident.goto(f"{server_url}/report")
            resident.get_by_label("Feeling unsafe in a place").check()
            reasons = resident.get_by_role("group", name="What makes it feel unsafe?")
            expect(reasons).to_be_visible()
            new = reasons.get_by_label("Poor sightlines at a corner")
            expect(new).to_be_visible()
            expect(new).to_have_accessible_description("You cannot see round the corner.")
            new.check()
            screenshot(resident, "resident-offered-new-reason")
        finally:
            context.close()
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM reason WHERE key = 'poor-sightlines'"))
