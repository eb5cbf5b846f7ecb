"""An administrator switches a partner to Open311 in the browser: a mistake is named beside its
field, the saved key is never shown again, and the change is in the partner's history."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from safer_streets.models import Role
from tests.browser.conftest import screenshot
from tests.helpers import sign_in_page

pytestmark = [pytest.mark.browser]

KEY = "their-secret-key-2718"


def test_an_admin_sends_a_partners_reports_to_its_case_system(
    phone, server_url, live_app, make_user
):
    make_user("admin@send.example", None, Role.ADMIN)
    phone.goto(f"{server_url}/admin/partners/met-snt-rushey-green#send-method")
    sign_in_page(phone, "admin@send.example")
    expect(phone.get_by_role("heading", name="How it receives reports")).to_be_visible()

    phone.get_by_label("Open311 to its case system").check()
    phone.get_by_label("Open311 address").fill("ftp://cases.met.example/open311/v2")
    phone.get_by_label("API key").fill(KEY)
    phone.locator("#send_why").fill("The SNT works its cases in its own system now")
    phone.get_by_role("button", name="Save send method").click()

    expect(phone.get_by_role("alert")).to_contain_text("Open311 address: must start with https://")
    expect(phone.get_by_label("Open311 address")).to_have_attribute("aria-invalid", "true")
    # A key typed into a refused form is not sent back in the page.
    expect(phone.get_by_label("API key")).to_have_value("")
    screenshot(phone, "send-method-01-refused")

    phone.get_by_label("Open311 address").fill("https://cases.met.example/open311/v2")
    phone.get_by_label("API key").fill(KEY)
    phone.get_by_role("button", name="Save send method").click()
    expect(
        phone.get_by_text("reports routed from now on are posted to its case system")
    ).to_be_visible()
    expect(phone.get_by_label("Open311 to its case system")).to_be_checked()
    expect(phone.get_by_text("A key ending …2718 is stored")).to_be_visible()
    expect(phone.locator("#updates-read")).to_contain_text("once something has been posted")
    expect(phone.get_by_text("None: every report posted so far was taken.")).to_be_visible()
    assert KEY not in phone.content()
    expect(phone.locator("ol.changes li").first).to_contain_text(
        "The SNT works its cases in its own system now"
    )
    screenshot(phone, "send-method-02-saved")
