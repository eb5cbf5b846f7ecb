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
