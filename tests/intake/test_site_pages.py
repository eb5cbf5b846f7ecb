"""The accessibility statement, the contact page and the icon, reachable from every page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", ["/", "/report", "/around", "/privacy", "/you-said-we-did"])
def test_the_footer_links_the_site_pages(client, path):
    page = client.get(path).text
    for link in ('href="/accessibility"', 'href="/contact"', 'href="/you-said-we-did"'):
        assert link in page, (path, link)
    assert 'rel="icon" href="/static/img/favicon.svg' in page


def test_the_accessibility_statement_says_how_to_complain_and_how_it_was_tested(client):
    response = client.get("/accessibility")
    assert response.status_code == 200
    for words in (
        "partially compliant",
        "Content that is not accessible",
        "Reporting accessibility problems",
        "Equality and Human Rights Commission",
        "Equality Advisory and Support Service",
        "axe-core",
        "headless Chromium",
    ):
        assert words in response.text, words


def test_the_contact_page_uses_the_settings(app_with):
    client = app_with(contact_email="team@example.org", contact_phone="020 7946 0000").test_client()
    response = client.get("/contact")
    assert response.status_code == 200
    page = response.text
    assert 'href="mailto:team@example.org"' in page and "020 7946 0000" in page
    assert "999" in page and "101" in page and "Crimestoppers" in page and "0800 555 111" in page
    assert 'href="/report"' in page


def test_browsers_asking_for_favicon_ico_get_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.location.startswith("/static/img/favicon.svg")
    with client.get(response.location) as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
        assert b"<svg" in icon.get_data()


def test_the_report_forms_service_worker_is_served_fresh_under_the_sites_policy(client):
    with client.get("/report-worker.js") as response:
        assert 'addEventListener("fetch"' in response.text
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "no-cache" in response.headers["Cache-Control"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    form = client.get("/report").text
    assert '"worker": {"scope": "/report", "url": "/report-worker.js"}' in form


def test_the_privacy_page_says_a_draft_is_kept_on_the_phone_until_sent_or_discarded(client):
    page = client.get("/privacy").text
    assert 'id="on-this-phone"' in page
    for words in ("keeps a draft of it on this device", "Discard draft", "Leave this site"):
        assert words in page, words
