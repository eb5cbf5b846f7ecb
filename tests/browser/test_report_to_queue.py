"""A resident reports from a phone; the partner it was routed to sees it in their queue."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from safer_streets.models import ReportStatus
from tests.browser.conftest import screenshot
from tests.helpers import sign_in_page, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_a_resident_reports_and_the_routed_partner_sees_it(
    phone, server_url, worker, engine, make_user
):
    phone.goto(f"{server_url}/report")
    expect(phone.get_by_text("In danger now? Call 999.")).to_be_visible()
    phone.get_by_label("Drug dealing").check()
    phone.get_by_text("Enter latitude and longitude instead").click()
    phone.get_by_label("Latitude").fill("51.4452")
    phone.get_by_label("Longitude").fill("-0.0207")
    phone.get_by_label("What is wrong?").fill("Dealing outside the shops on Catford Broadway")
    screenshot(phone, "foundation-01-report-form")
    phone.get_by_role("button", name="Send report").click()

    expect(
        phone.get_by_role("heading", name=re.compile("your report has been sent"))
    ).to_be_visible()
    reference = phone.locator(".reference").inner_text()
    assert re.fullmatch(r"LEW-[2-9A-Z]{5}", reference)
    screenshot(phone, "foundation-02-confirmation")
    wait_for_status(engine, reference, ReportStatus.ROUTED)

    make_user("sergeant@rg.example", "met-snt-rushey-green")
    phone.goto(f"{server_url}/triage")
    sign_in_page(phone, "sergeant@rg.example")  # and the second step police and admins take
    expect(phone.get_by_role("link", name=reference)).to_be_visible()
    screenshot(phone, "foundation-03-partner-queue")
    phone.get_by_role("link", name=reference).click()
    why = phone.get_by_role("definition").filter(has_text="Drug dealing in Rushey Green")
    expect(why).to_contain_text(
        "Met Police Rushey Green Safer Neighbourhood Team, "
        "the ward's Safer Neighbourhood Team (ward rule)"
    )


def test_mistakes_are_shown_next_to_their_fields_and_nothing_typed_is_lost(phone, server_url):
    phone.goto(f"{server_url}/report")
    phone.get_by_label("Street lighting").check()
    phone.get_by_text("Enter latitude and longitude instead").click()
    phone.get_by_label("Latitude").fill("51.5072")
    phone.get_by_label("Longitude").fill("-0.1276")
    phone.get_by_label("What is wrong?").fill("Three lights out on the footpath")
    phone.get_by_role("button", name="Send report").click()

    expect(phone.get_by_role("alert")).to_contain_text("outside Lewisham")
    expect(phone.get_by_label("What is wrong?")).to_have_value("Three lights out on the footpath")
    expect(phone.get_by_label("Latitude")).to_have_value("51.5072")
    expect(phone.get_by_label("Street lighting")).to_be_checked()
    screenshot(phone, "foundation-04-form-errors")
