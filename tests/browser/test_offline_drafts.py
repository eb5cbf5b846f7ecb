"""With no signal the report form keeps its draft on the phone and sends it only when the
resident presses Send: restored after a reload, kept when sending fails, offered again once
back online, discarded on request and by the quick exit; the form itself opens offline."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_resident_reporting import (
    NEUTRAL_SITE,
    _offline,
    add_routed_report,
    axe_violations,
    count_reports,
    photo_with_gps,
    report_in_db,
    sent_reference,
)
from tests.helpers import sign_in_page

pytestmark = [pytest.mark.browser]

NO_SIGNAL = (
    "No signal: your report is saved on this phone and has not been sent. "
    "We will offer to send it when you are back online."
)


class Site:
    """The app on a fixed local port that can go away (no connection at all) and come back."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        if self.thread is None:
            if self.server is None:
                self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
            self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.server = None
            self.thread = None


@pytest.fixture
def site(live_app: Flask) -> Iterator[Site]:
    site = Site(live_app)
    yield site
    site.stop()


@pytest.fixture
def resident(phone: Page) -> Page:
    return _offline(phone)


def kept_draft(page: Page) -> dict | None:
    """The draft as the phone holds it (the photo as its name and size)."""
    return page.evaluate(
        """() => window.saferStreetsDrafts.load().then((draft) => draft && {
            state: draft.state,
            fields: draft.fields,
            photo: draft.photo && {name: draft.photo.name, size: draft.photo.blob.size},
        })"""
    )


def wait_until_kept(page: Page, predicate) -> dict:
    for _ in range(50):
        draft = kept_draft(page)
        if draft and predicate(draft):
            return draft
        page.wait_for_timeout(100)
    raise AssertionError(f"the draft was not kept as expected: {kept_draft(page)}")


def kept_paths(page: Page) -> list[str]:
    """The paths of everything the service worker keeps."""
    return page.evaluate(
        """() => caches.keys().then((names) => Promise.all(names.map((name) =>
          caches.open(name).then((cache) => cache.keys()))))
        .then((lists) => lists.flat().map((request) => new URL(request.url).pathname))"""
    )


def wait_until_gone(page: Page) -> None:
    for _ in range(50):
        if kept_draft(page) is None:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the draft is still kept: {kept_draft(page)}")


def fill_report(page: Page) -> None:
    page.get_by_label("Postcode, street or place").fill("Rushey Green")
    page.get_by_label("Feeling unsafe in a place").check()
    page.get_by_label("Badly lit").check()
    page.get_by_label("Earlier today").check()
    page.get_by_label("What time? (roughly)").fill("00:00")
    page.get_by_label("What is wrong?").fill("The alley behind the shops has no lights")
    page.get_by_label("Photo (optional)").set_input_files(
        {"name": "alley.jpg", "mimeType": "image/jpeg", "buffer": photo_with_gps()}
    )
    wait_until_kept(
        page,
        lambda draft: (
            draft["photo"]
            and ["description", "The alley behind the shops has no lights"] in draft["fields"]
        ),
    )


def worker_ready(page: Page) -> None:
    """The service worker controls the page and has kept the form."""
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=10_000)
    page.wait_for_function(
        """() => caches.keys().then((names) => Promise.all(names.map((name) =>
              caches.open(name).then((cache) => cache.match('/report')))))
            .then((found) => found.some(Boolean))""",
        polling=200,
        timeout=10_000,
    )


def test_a_draft_is_restored_after_a_reload_and_can_be_discarded(resident, site):
    resident.goto(f"{site.url}/report")
    expect(resident.locator("#draft-notice")).to_be_hidden()
    fill_report(resident)

    resident.reload()
    notice = resident.locator("#draft-notice")
    expect(notice).to_contain_text(
        re.compile(
            r"Your unsent draft from \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d has been restored"
        )
    )
    expect(notice.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    expect(resident.get_by_label("Postcode, street or place")).to_have_value("Rushey Green")
    expect(resident.get_by_label("Feeling unsafe in a place")).to_be_checked()
    expect(resident.get_by_label("Badly lit")).to_be_checked()
    expect(resident.get_by_role("group", name="What makes it feel unsafe?")).to_be_visible()
    expect(resident.get_by_label("What time? (roughly)")).to_have_value("00:00")
    expect(resident.get_by_label("What time? (roughly)")).to_be_visible()
    expect(resident.get_by_label("What is wrong?")).to_have_value(
        "The alley behind the shops has no lights"
    )
    assert resident.evaluate("document.getElementById('photo').files[0].name") == "alley.jpg"
    expect(resident.get_by_role("button", name="Send it now")).to_be_hidden()
    screenshot(resident, "draft-01-restored")
    assert axe_violations(resident) == []

    resident.get_by_role("button", name="Discard draft").click()
    expect(notice).to_contain_text("Your draft has been discarded.")
    expect(resident.get_by_label("What is wrong?")).to_have_value("")
    expect(resident.get_by_label("Feeling unsafe in a place")).not_to_be_checked()
    assert resident.evaluate("document.getElementById('photo').files.length") == 0
    assert kept_draft(resident) is None
    resident.reload()
    expect(resident.get_by_label("What is wrong?")).to_have_value("")
    expect(notice).to_be_hidden()


def test_a_pin_on_the_map_comes_back_with_the_draft(resident, site):
    resident.goto(f"{site.url}/report")
    resident.locator("#report-map").click()
    expect(resident.locator("#location-status")).to_contain_text("Pin placed near")
    lat = resident.locator("#lat").input_value()
    lon = resident.locator("#lon").input_value()
    wait_until_kept(resident, lambda draft: ["lat", lat] in draft["fields"])

    resident.reload()
    expect(resident.locator("#draft-notice")).to_contain_text("has been restored")
    expect(resident.locator("#lat")).to_have_value(lat)
    expect(resident.locator("#lon")).to_have_value(lon)
    expect(resident.locator("#report-map .leaflet-marker-icon")).to_be_visible()


def test_with_no_signal_the_report_waits_on_the_phone_until_the_resident_sends_it(
    resident, site, engine
):
    resident.goto(f"{site.url}/report")
    worker_ready(resident)
    fill_report(resident)
    before = count_reports(engine)

    resident.context.set_offline(True)
    resident.get_by_role("button", name="Send report").click()
    notice = resident.locator("#draft-notice")
    expect(notice).to_have_text(re.compile(re.escape(NO_SIGNAL)))
    expect(notice).to_be_focused()
    expect(resident.get_by_role("button", name="Send it now")).to_be_hidden()
    screenshot(resident, "draft-02-no-signal")
    assert wait_until_kept(resident, lambda draft: draft["state"] == "waiting")
    assert count_reports(engine) == before

    # Still no signal, and no server either: the phone's copy of the form opens, with the draft.
    site.stop()
    resident.reload()
    expect(resident.get_by_role("heading", name="Report a problem", exact=True)).to_be_visible()
    expect(notice).to_have_text(re.compile(re.escape(NO_SIGNAL)))
    expect(resident.get_by_label("What is wrong?")).to_have_value(
        "The alley behind the shops has no lights"
    )
    site.start()

    # Back online: offered, never sent by itself.
    resident.context.set_offline(False)
    send = resident.get_by_role("button", name="Send it now")
    expect(send).to_be_visible()
    expect(notice).to_contain_text("You are back online. Your report has not been sent yet")
    screenshot(resident, "draft-03-back-online")
    assert axe_violations(resident) == []
    resident.wait_for_timeout(1500)
    assert count_reports(engine) == before

    send.click()
    reference = sent_reference(resident)
    assert count_reports(engine) == before + 1
    stored = report_in_db(engine, reference)
    assert stored["location_text"] == "Rushey Green"
    assert stored["reasons"] == ["badly-lit"]
    assert stored["photo"] is not None and stored["photo"].startswith(b"\xff\xd8")
    assert b"PhoneMaker" not in stored["photo"]  # the server stripped it as always
    wait_until_gone(resident)

    resident.goto(f"{site.url}/report")
    expect(resident.get_by_label("What is wrong?")).to_have_value("")
    expect(notice).to_be_hidden()
    # Reopening the confirmation later sends nothing again.
    resident.go_back()
    assert count_reports(engine) == before + 1


def test_a_draft_found_on_the_next_visit_is_offered_not_sent(resident, site, engine):
    resident.goto(f"{site.url}/report")
    fill_report(resident)
    before = count_reports(engine)
    resident.context.set_offline(True)
    resident.get_by_role("button", name="Send report").click()
    expect(resident.locator("#draft-notice")).to_contain_text("No signal")
    resident.context.set_offline(False)

    resident.goto(f"{site.url}/")
    resident.goto(f"{site.url}/report")
    notice = resident.locator("#draft-notice")
    expect(notice).to_contain_text("It has not been sent yet")
    expect(resident.get_by_role("button", name="Send it now")).to_be_visible()
    resident.wait_for_timeout(1000)
    assert count_reports(engine) == before

    resident.get_by_role("button", name="Send it now").click()
    reference = sent_reference(resident)
    assert count_reports(engine) == before + 1
    assert report_in_db(engine, reference)["photo"] is not None
    wait_until_gone(resident)


def test_the_quick_exit_deletes_the_draft(resident, site):
    resident.goto(f"{site.url}/report")
    fill_report(resident)
    resident.get_by_role("link", name=re.compile("Leave this site")).click()
    resident.wait_for_url(NEUTRAL_SITE)

    resident.goto(f"{site.url}/report")
    expect(resident.get_by_label("What is wrong?")).to_have_value("")
    expect(resident.locator("#draft-notice")).to_be_hidden()
    assert kept_draft(resident) is None


def test_mistakes_found_by_the_server_keep_the_draft_in_step(resident, site, engine):
    resident.goto(f"{site.url}/report")
    resident.get_by_label("Fly-tipping").check()
    resident.get_by_label("What is wrong?").fill("Bags dumped")
    wait_until_kept(resident, lambda draft: ["category", "fly-tipping"] in draft["fields"])
    resident.get_by_role("button", name="Send report").click()
    expect(resident.get_by_role("alert")).to_contain_text("Show us where it is")
    expect(resident.locator("#draft-notice")).to_be_hidden()
    wait_until_kept(resident, lambda draft: draft["state"] == "editing")

    resident.get_by_label("Postcode, street or place").fill("Catford Broadway")
    resident.get_by_role("button", name="Send report").click()
    sent_reference(resident)
    wait_until_gone(resident)


def test_the_phone_keeps_only_the_empty_form_and_its_files(resident, site):
    resident.goto(f"{site.url}/report")
    worker_ready(resident)
    resident.goto(f"{site.url}/privacy")
    expect(resident.get_by_role("heading", name="On this phone")).to_be_visible()
    kept = kept_paths(resident)
    assert "/report" in kept
    assert all(path == "/report" or path.startswith("/static/") for path in kept), kept
    assert any(path.endswith("report-draft.js") for path in kept), kept

    site.stop()
    resident.context.set_offline(True)
    resident.goto(f"{site.url}/report?category=fly-tipping")
    expect(resident.get_by_role("heading", name="Report a problem", exact=True)).to_be_visible()
    expect(resident.locator("#report-map")).to_be_visible()  # Leaflet came from the phone too
    # Every other page needs the network: nothing else was kept.
    with pytest.raises(PlaywrightError, match="ERR_"):
        resident.goto(f"{site.url}/track")
    site.start()


def test_an_answer_lost_on_the_way_back_does_not_make_a_second_report(browser, site, engine):
    # No service worker here, so that the form's POST can be cut off after the server took it.
    context = browser.new_context(viewport=PHONE, is_mobile=True, service_workers="block")
    page = _offline(context.new_page())
    page.goto(f"{site.url}/report")
    fill_report(page)
    before = count_reports(engine)

    def reached_the_server_then_lost(route):
        route.fetch(max_redirects=0)
        route.abort("internetdisconnected")

    page.route(
        f"{site.url}/report",
        lambda route: (
            reached_the_server_then_lost(route)
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    page.get_by_role("button", name="Send report").click()
    with pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"):
        page.wait_for_url(re.compile(r"/report/LEW-"))  # the browser says there is no internet
    for _ in range(50):
        if page.url.startswith("chrome-error://"):
            break
        page.wait_for_timeout(100)
    page.wait_for_load_state()
    assert count_reports(engine) == before + 1
    page.unroute(f"{site.url}/report")

    page.goto(f"{site.url}/report")
    expect(page.locator("#draft-notice")).to_contain_text("It has not been sent yet")
    page.get_by_role("button", name="Send it now").click()
    sent_reference(page)
    assert count_reports(engine) == before + 1
    wait_until_gone(page)
    context.close()


def test_back_from_the_confirmation_the_sent_report_is_not_kept(resident, site, engine):
    resident.goto(f"{site.url}/report")
    fill_report(resident)
    resident.get_by_role("button", name="Send report").click()
    sent_reference(resident)
    wait_until_gone(resident)

    resident.go_back()
    expect(resident.get_by_role("heading", name="Report a problem", exact=True)).to_be_visible()
    expect(resident.get_by_label("What is wrong?")).to_have_value("")
    expect(resident.get_by_role("button", name="Send it now")).to_be_hidden()
    assert kept_draft(resident) is None


def test_the_form_as_a_signed_in_partner_sees_it_is_never_kept(resident, site, make_user):
    make_user("officer@drafts.example", "lewisham-community-safety", name="Sam Officer")
    resident.goto(f"{site.url}/login?next=/report")
    sign_in_page(resident, "officer@drafts.example")
    expect(resident.get_by_role("heading", name="Report a problem", exact=True)).to_be_visible()
    resident.wait_for_function("() => navigator.serviceWorker.controller !== null")
    for _ in range(50):
        if any(path.endswith("report-draft.js") for path in kept_paths(resident)):
            break
        resident.wait_for_timeout(100)
    resident.reload()  # through the worker this time
    expect(resident.get_by_role("heading", name="Report a problem", exact=True)).to_be_visible()
    resident.wait_for_timeout(500)
    kept = kept_paths(resident)
    assert any(path.endswith("report-draft.js") for path in kept), kept
    assert "/report" not in kept, kept


def test_adding_a_voice_instead_of_a_new_report_ends_the_draft(resident, site, engine):
    add_routed_report(engine, "fly-tipping", -0.021135, 51.445433)
    before = count_reports(engine)
    resident.goto(f"{site.url}/report")
    resident.get_by_label("Fly-tipping").check()
    resident.get_by_role("combobox", name="Postcode, street or place").press_sequentially(
        "Catford Broadw", delay=30
    )
    resident.get_by_role("option", name=re.compile("Catford Broadway")).click()
    wait_until_kept(resident, lambda draft: ["category", "fly-tipping"] in draft["fields"])
    prompt = resident.get_by_role("region", name="Is this the same? Add your voice instead")
    prompt.get_by_role("button", name="Add my voice to this report").click()
    resident.get_by_role("button", name="Add my voice", exact=True).click()
    expect(
        resident.get_by_role("heading", name="Thank you, your voice has been added")
    ).to_be_visible()
    wait_until_gone(resident)
    assert count_reports(engine) == before
