"""An administrator issues an API key in the browser, sees it once, and revokes it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from safer_streets.models import Role
from tests.browser.conftest import screenshot
from tests.helpers import sign_in_page

pytestmark = [pytest.mark.browser]


def test_an_admin_issues_and_revokes_a_key(phone, server_url, live_app, make_user):
    make_user("admin@keys.example", None, Role.ADMIN)
    phone.goto(f"{server_url}/admin/api-keys")
    sign_in_page(phone, "admin@keys.example")  # and the second step police and admins take
    expect(phone.get_by_role("heading", name="API keys", exact=True)).to_be_visible()

    phone.get_by_role("button", name="Issue key").click()
    expect(phone.get_by_text("Client name is required")).to_be_visible()
    expect(phone.get_by_label("Client name")).to_have_attribute("aria-invalid", "true")

    phone.get_by_label("Client name").fill("Met case system")
    phone.get_by_label("Acts for partner (optional)").select_option("met-snt-rushey-green")
    phone.get_by_role("button", name="Issue key").click()
    key = phone.locator("#api-key-value").inner_text()
    assert re.fullmatch(r"ssk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    screenshot(phone, "open311-01-key-issued")

    client = live_app.test_client()
    assert client.get(f"/open311/v2/services.xml?api_key={key}").status_code == 200

    phone.goto(f"{server_url}/admin/api-keys")
    expect(phone.get_by_text(key)).to_have_count(0)
    phone.get_by_role("button", name="Revoke the key of Met case system").click()
    expect(phone.locator("tr", has_text="Met case system")).to_contain_text("revoked")
    screenshot(phone, "open311-02-key-revoked")
    assert client.get(f"/open311/v2/services.xml?api_key={key}").status_code == 403
