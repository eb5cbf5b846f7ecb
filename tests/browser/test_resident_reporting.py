"""A resident reports from a phone: with a pin, with a postcode, without JavaScript; the
duplicate prompt, the quick exit, accessibility and the page's weight."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from geoalchemy2.shape import from_shape, to_shape
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from shapely.geometry import Point
from sqlalchemy import func, select, update

from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import Category, Report, ReportPhoto, ReportStatus
from tests.browser.conftest import ARTIFACTS, PHONE, page_width, screenshot
from tests.helpers import wait_for_status

pytestmark = [pytest.mark.browser]

TILES = re.compile(r"^https://tile\.openstreetmap\.org/")
NEUTRAL_SITE = "https://www.bbc.co.uk/weather"
PAGE_WEIGHT_LIMIT = 150 * 1024


def _offline(page: Page) -> Page:
    """No network here: map tiles fail (as on a bad connection); the neutral site is a stub."""
    page.route(TILES, lambda route: route.abort())
    page.route(
        re.compile(r"^https://www\.bbc\.co\.uk/"),
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<title>Weather</title><h1>Weather</h1>"
        ),
    )
    return page


@pytest.fixture
def resident(phone: Page) -> Page:
    """The phone, offline apart from this app."""
    return _offline(phone)


@pytest.fixture
def resident_without_js(browser: Browser) -> Iterator[Page]:
    """A phone with JavaScript turned off."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, java_script_enabled=False
    )
    page = _offline(context.new_page())
    yield page
    context.close()


def photo_with_gps() -> bytes:
    """A phone photo whose EXIF says where it was taken."""
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 26.0, 42.0), 3: "W", 4: (0.0, 1.0, 14.0)}
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (90, 90, 90)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def report_in_db(engine, reference: str) -> dict:
    with session_scope(make_session_factory(engine)) as session:
        report = session.scalars(select(Report).where(Report.reference == reference)).one()
        photo = session.scalar(select(ReportPhoto).where(ReportPhoto.report_id == report.id))
        point = to_shape(report.location) if report.location is not None else None
        return {
            "lon": point.x if point else None,
            "lat": point.y if point else None,
            "reasons": list(report.reasons),
            "after_dark": report.after_dark,
            "occurred_at": report.occurred_at,
            "location_text": report.location_text,
            "photo": photo.data if photo else None,
            "supporter_count": report.supporter_count,
        }


def count_reports(engine) -> int:
    with session_scope(make_session_factory(engine)) as session:
        return session.scalar(select(func.count()).select_from(Report))


def sent_reference(page: Page) -> str:
    expect(
        page.get_by_role("heading", name=re.compile("your report has been sent"))
    ).to_be_visible()
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"LEW-[2-9A-Z]{5}", reference)
    return reference


@pytest.mark.worker
def test_a_resident_reports_with_a_pin_and_a_photo(resident, server_url, worker, engine):
    resident.goto(f"{server_url}/report")
    expect(resident.get_by_text("In danger now? Call 999.")).to_be_visible()
    screenshot(resident, "resident-01-report-form")

    resident.locator("#report-map").click()  # the map opens on Catford: tap its middle
    expect(resident.locator("#location-status")).to_contain_text("Pin placed near")
    expect(resident.get_by_label("Postcode, street or place")).not_to_have_value("")
    resident.get_by_label("Street lighting").check()
    resident.get_by_label("What is wrong?").fill("Three lights out along the footpath")
    resident.get_by_label("Photo (optional)").set_input_files(
        {"name": "lights.jpg", "mimeType": "image/jpeg", "buffer": photo_with_gps()}
    )
    screenshot(resident, "resident-02-pin-placed")
    resident.get_by_role("button", name="Send report").click()

    reference = sent_reference(resident)
    wait_for_status(engine, reference, ReportStatus.ROUTED)
    # The confirmation page finds out who has it without a reload.
    expect(resident.locator("#routing")).to_contain_text("Sent to Lewisham Council Highways")
    screenshot(resident, "resident-03-sent-and-routed")

    stored = report_in_db(engine, reference)
    assert stored["lat"] == pytest.approx(51.4452, abs=0.01)
    assert stored["after_dark"] is not None
    assert stored["photo"] is not None and stored["photo"].startswith(b"\xff\xd8")
    assert b"Exif" not in stored["photo"] and b"PhoneMaker" not in stored["photo"]

    another = resident.get_by_role("link", name="Report another problem here")
    expect(another).to_have_attribute("href", re.compile(r"lat=51\.\d+&lon=-0\.\d+"))
    resident.get_by_role("link", name="Follow this report").click()
    expect(resident.get_by_role("heading", name=f"Report {reference}")).to_be_visible()
    # A photo is public only once a partner has approved it, on the reporter's link too.
    photo = resident.get_by_role("img", name="Photo sent with the report")
    expect(photo).to_have_count(0)
    with session_scope(make_session_factory(engine)) as session:
        report = session.scalars(select(Report).where(Report.reference == reference)).one()
        session.execute(
            update(ReportPhoto)
            .where(ReportPhoto.report_id == report.id)
            .values(approved_at=func.now())
        )
    resident.reload()
    expect(photo).to_be_visible()
    screenshot(resident, "resident-04-tracking-page")


@pytest.mark.worker
def test_a_resident_finds_the_place_by_postcode_and_says_why_it_feels_unsafe(
    resident, server_url, worker, engine
):
    resident.goto(f"{server_url}/report")
    place = resident.get_by_role("combobox", name="Postcode, street or place")
    place.press_sequentially("se6 4ju", delay=30)
    option = resident.get_by_role("option", name=re.compile("SE6 4JU"))
    expect(option).to_be_visible()
    screenshot(resident, "resident-05-postcode-suggestions")
    # Escape closes the suggestions; it does not leave the site while they are open.
    place.press("Escape")
    expect(option).to_be_hidden()
    assert resident.url == f"{server_url}/report"
    place.press("Backspace")
    place.press("U")
    option.click()
    expect(resident.locator("#location-status")).to_contain_text("SE6 4JU")
    assert resident.locator("#lat").input_value().startswith("51.44")

    reasons = resident.get_by_role("group", name="What makes it feel unsafe?")
    expect(reasons).to_be_hidden()
    resident.get_by_label("Feeling unsafe in a place").check()
    expect(reasons).to_be_visible()
    resident.get_by_label("Badly lit").check()
    resident.get_by_label("I was followed").check()
    resident.get_by_label("Earlier today").check()
    resident.get_by_label("What time? (roughly)").fill("00:00")
    resident.get_by_label("What is wrong?").fill("The underpass has no working lights")
    screenshot(resident, "resident-06-feeling-unsafe-reasons")
    resident.get_by_role("button", name="Send report").click()

    reference = sent_reference(resident)
    wait_for_status(engine, reference, ReportStatus.ROUTED)
    stored = report_in_db(engine, reference)
    assert stored["reasons"] == ["badly-lit", "followed"]
    assert stored["after_dark"] is True  # midnight in London
    assert stored["occurred_at"] is not None


@pytest.mark.worker
def test_without_javascript_the_same_form_works_with_a_street(
    resident_without_js, server_url, worker, engine
):
    page = resident_without_js
    page.goto(f"{server_url}/report")
    expect(page.locator("#report-map")).to_be_hidden()
    expect(page.get_by_role("link", name="Leave this site")).to_have_attribute("href", NEUTRAL_SITE)
    page.get_by_role("button", name="Send report").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Show us where it is")
    expect(alert).to_contain_text("Choose what the problem is")
    expect(alert).to_contain_text("Describe the problem")
    screenshot(page, "resident-07-no-js-errors")

    page.get_by_label("Postcode, street or place").fill("Catford Broadway")
    page.get_by_label("Fly-tipping").check()
    page.get_by_label("What is wrong?").fill("A mattress and bags dumped by the bins")
    page.get_by_role("button", name="Send report").click()
    reference = sent_reference(page)
    wait_for_status(engine, reference, ReportStatus.ROUTED)
    page.get_by_role("link", name="Check again").click()
    expect(page.locator("#routing")).to_contain_text(
        "Sent to Lewisham Council Environment Services"
    )
    screenshot(page, "resident-08-no-js-sent")
    stored = report_in_db(engine, reference)
    assert stored["location_text"] == "Catford Broadway"
    assert stored["lat"] == pytest.approx(51.4454, abs=0.002)


def add_routed_report(engine, slug: str, lon: float, lat: float) -> str:
    with session_scope(make_session_factory(engine)) as session:
        category = session.scalars(select(Category).where(Category.slug == slug)).one()
        report = Report(
            reference="LEW-SAME2",
            category=category,
            description="Sofa dumped",
            location=from_shape(Point(lon, lat), srid=4326),
            street="Catford Broadway",
            status=ReportStatus.ROUTED,
        )
        session.add(report)
    return "LEW-SAME2"


def test_the_same_problem_nearby_gets_a_voice_not_a_duplicate(resident, server_url, engine):
    reference = add_routed_report(engine, "fly-tipping", -0.021135, 51.445433)
    before = count_reports(engine)
    resident.goto(f"{server_url}/report")
    resident.get_by_label("Fly-tipping").check()
    resident.get_by_role("combobox", name="Postcode, street or place").press_sequentially(
        "Catford Broadw", delay=30
    )
    resident.get_by_role("option", name=re.compile("Catford Broadway")).click()

    prompt = resident.get_by_role("region", name="Is this the same? Add your voice instead")
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text("Catford Broadway")
    screenshot(resident, "resident-09-is-this-the-same")
    # What the resident already said goes with their voice, to check and add to.
    resident.get_by_label("Yes, email me updates").check()
    resident.get_by_label("Email address").fill("neighbour@example.org")
    prompt.get_by_role("button", name="Add my voice to this report").click()
    expect(resident.get_by_role("heading", name="Add your voice to this report")).to_be_visible()
    expect(resident.get_by_label("Email address")).to_have_value("neighbour@example.org")
    resident.get_by_role("button", name="Add my voice", exact=True).click()

    expect(
        resident.get_by_role("heading", name="Thank you, your voice has been added")
    ).to_be_visible()
    expect(resident.locator(".reference")).to_have_text(reference)
    screenshot(resident, "resident-10-voice-added")
    expect(resident.get_by_text("1 person has added their voice")).to_be_visible()
    assert report_in_db(engine, reference)["supporter_count"] == 1
    assert count_reports(engine) == before


def test_a_touch_screen_is_not_offered_a_key_it_does_not_have(browser: Browser, server_url):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    touch = _offline(context.new_page())
    touch.goto(f"{server_url}/report")
    expect(touch.locator("#quick-exit")).to_be_visible()
    expect(touch.locator("#quick-exit .quick-exit-key")).to_be_hidden()
    context.close()


def test_escape_leaves_at_once_and_the_report_page_is_not_in_the_history(resident, server_url):
    resident.goto(f"{server_url}/")
    resident.get_by_role("link", name="Report a problem").click()
    expect(resident.get_by_role("heading", name="Report a problem")).to_be_visible()
    resident.get_by_label("What is wrong?").fill("Someone keeps following me")
    # The "Esc" hint appears once the key works: what a resident sees before relying on it.
    expect(resident.locator("#quick-exit .quick-exit-key")).to_be_visible()
    length = resident.evaluate("history.length")
    resident.keyboard.press("Escape")
    resident.wait_for_url(NEUTRAL_SITE)
    assert resident.evaluate("history.length") == length
    resident.go_back()
    assert resident.url == f"{server_url}/"  # back skips the report page


def test_the_quick_exit_button_is_always_in_view(resident, server_url):
    resident.goto(f"{server_url}/report")
    resident.mouse.wheel(0, 3000)
    button = resident.get_by_role("link", name=re.compile("Leave this site"))
    expect(button).to_be_in_viewport()
    box = button.bounding_box()
    assert box["height"] >= 24 and box["width"] >= 24  # WCAG 2.2 target size
    ARTIFACTS.mkdir(exist_ok=True)
    resident.screenshot(path=ARTIFACTS / "resident-13-quick-exit-in-view.png")
    button.click()
    resident.wait_for_url(NEUTRAL_SITE)


def axe_violations(page: Page) -> list[dict]:
    """Serious and critical axe-core violations on the page as it is now."""
    # Through DevTools rather than a script tag: the page's CSP rightly refuses inline scripts.
    page.evaluate(AXE_SCRIPT)
    results = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_reporting_pages_have_no_serious_accessibility_problems(resident, server_url):
    resident.goto(f"{server_url}/report?category=weapons")
    expect(resident.get_by_role("heading", name=re.compile("call 999"))).to_be_visible()
    screenshot(resident, "resident-11-weapons-notice")
    found = {"report form": axe_violations(resident)}

    resident.get_by_role("button", name="Send report").click()
    expect(resident.get_by_role("alert")).to_be_focused()
    expect(resident.get_by_label("What is wrong?")).to_have_attribute("aria-invalid", "true")
    found["form with errors"] = axe_violations(resident)

    resident.get_by_label("Postcode, street or place").fill("SE6 4JU")
    resident.get_by_label("What is wrong?").fill("A man showed a knife outside the station")
    resident.get_by_role("button", name="Send report").click()
    sent_reference(resident)
    found["confirmation"] = axe_violations(resident)
    resident.get_by_role("link", name="Follow this report").click()
    found["tracking page"] = axe_violations(resident)
    resident.goto(f"{server_url}/")
    found["front page"] = axe_violations(resident)

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe-resident-pages.json").write_text(json.dumps(found, indent=2))
    assert all(not violations for violations in found.values()), found


def test_the_report_page_is_light_and_fits_a_360_pixel_screen(browser, server_url):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    page = _offline(context.new_page())
    loaded = []
    page.on("requestfinished", lambda request: loaded.append(request))
    page.goto(f"{server_url}/report", wait_until="networkidle")
    local = [r for r in loaded if r.url.startswith(server_url)]
    sizes = {
        r.url.removeprefix(server_url): r.sizes()["responseBodySize"]
        + r.sizes()["responseHeadersSize"]
        for r in local
    }
    total = sum(sizes.values())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-page-weight.json").write_text(
        json.dumps(
            {"total_bytes": total, "limit_bytes": PAGE_WEIGHT_LIMIT, "files": sizes}, indent=2
        )
    )
    scroll_width = page_width(page)
    screenshot(page, "resident-12-360px")
    context.close()
    assert total < PAGE_WEIGHT_LIMIT, sizes
    assert any("leaflet.js" in url for url in sizes)
    assert scroll_width <= 360
