"""An administrator uploads a named area's outline, sees it drawn on its map under the page's
Content-Security-Policy, is told what is wrong with a bad file, and removes the area."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from safer_streets.models import Role
from tests.browser.conftest import screenshot
from tests.helpers import sign_in_page

pytestmark = [pytest.mark.browser]

SQUARE = [[-0.024, 51.443], [-0.017, 51.443], [-0.017, 51.447], [-0.024, 51.447], [-0.024, 51.443]]


def test_an_admin_uploads_sees_and_removes_an_area(
    phone, server_url, live_app, make_user, engine, tmp_path
):
    good = tmp_path / "market.geojson"
    good.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            }
        )
    )
    bad = tmp_path / "point.geojson"
    bad.write_text(json.dumps({"type": "Point", "coordinates": [-0.02, 51.44]}))
    make_user("admin@areas.example", None, Role.ADMIN)
    try:
        phone.goto(f"{server_url}/admin/areas")
        sign_in_page(phone, "admin@areas.example")
        expect(phone.get_by_role("heading", name="Named areas", exact=True)).to_be_visible()

        phone.get_by_label("Name").fill("Catford market")
        phone.get_by_label("Kind").select_option("town-centre")
        phone.get_by_label("GeoJSON file").set_input_files(str(bad))
        phone.get_by_label("Why this change?").fill("Market pilot")
        phone.get_by_role("button", name="Upload outline").click()
        summary = phone.locator("#error-summary")
        expect(summary).to_contain_text("the file is a Point")
        summary.get_by_role("link").click()
        expect(phone.get_by_label("GeoJSON file")).to_be_focused()

        phone.get_by_label("GeoJSON file").set_input_files(str(good))
        phone.get_by_label("Why this change?").fill("Market pilot")
        phone.get_by_role("button", name="Upload outline").click()
        expect(phone.get_by_role("status").first).to_contain_text("Catford market added")
        area_map = phone.locator('.area-map[data-slug="catford-market"]')
        expect(area_map).to_be_visible()
        expect(area_map.locator("path.leaflet-interactive, path")).not_to_have_count(0)
        screenshot(phone, "admin-areas-uploaded")

        item = phone.locator("#area-catford-market")
        item.locator("summary").click()
        item.get_by_label("Why remove Catford market?").fill("Pilot over")
        item.get_by_role("button", name="Remove Catford market").click()
        expect(phone.get_by_role("status").first).to_contain_text("Catford market removed")
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM area WHERE slug = 'catford-market'"))
