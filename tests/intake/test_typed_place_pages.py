"""Where a report typed as a street is shown: its outline and "somewhere on" the street,
never a pin at the gazetteer's point, on the tracking page, the staff page, the queue's map
and /around."""

from __future__ import annotations

import html
import json
import re

from safer_streets.accounts import users
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import Role
from safer_streets.routing import processing
from tests.helpers import PASSWORD, PASSWORDS, login


def typed_and_routed(db_session, wards, places, text="Catford Broadway"):
    submission = parse_submission(
        {"category": "fly-tipping", "location_text": text, "description": "Bags dumped"}
    )
    report, _ = submit_report(db_session, submission, places=places)
    processing.process_reports(db_session, [report.id], wards, places)
    db_session.refresh(report)
    return report


def outline_in(page: str, element_id: str) -> dict:
    tag = re.search(rf'<[^>]*id="{element_id}"[^>]*>', page).group(0)
    return json.loads(html.unescape(re.search(r'data-outline="([^"]*)"', tag).group(1)))


def sign_in_as_its_owners_staff(client, db_session, report) -> None:
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="env@lewisham.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=report.owner.slug,
    )
    login(client, "env@lewisham.example")


def test_the_tracking_page_shows_the_streets_outline(client, db_session, wards, places):
    report = typed_and_routed(db_session, wards, places)
    page = client.get(f"/track/{report.reference}").text
    assert "Somewhere on Catford Broadway" in page
    assert outline_in(page, "area-map")["type"] == "Polygon"
    assert "the report is somewhere in the outline" in page


def test_the_public_map_lists_it_with_its_outline(client, db_session, wards, places):
    report = typed_and_routed(db_session, wards, places, "Catford town centre")
    page = client.get("/around?days=7").text
    row = re.search(rf'<li[^>]*data-ref="{report.reference}"[^>]*>', page).group(0)
    assert "data-outline=" in row
    assert "Somewhere in Catford town centre" in page


def test_the_staff_page_draws_the_outline(app, db_session, wards, places):
    report = typed_and_routed(db_session, wards, places)
    client = app.test_client()
    sign_in_as_its_owners_staff(client, db_session, report)
    page = client.get(f"/triage/reports/{report.reference}").text
    assert "Somewhere on Catford Broadway" in page
    assert outline_in(page, "report-map")["type"] == "Polygon"
    assert "the outline is where it may be" in page

    (marker,) = client.get("/triage/map.json").json["points"]
    assert marker["somewhere"] is True and marker["place"] == "Somewhere on Catford Broadway"
    assert "Dashed: somewhere on a street or place" in client.get("/triage").text


def test_a_pin_is_still_a_pin(client, db_session, wards, places):
    submission = parse_submission(
        {"category": "fly-tipping", "lat": 51.4452, "lon": -0.0207, "description": "Bags"}
    )
    report, _ = submit_report(db_session, submission, places=places)
    processing.process_reports(db_session, [report.id], wards, places)
    page = client.get(f"/track/{report.reference}").text
    assert "Somewhere on" not in page and "data-outline" not in page
    sign_in_as_its_owners_staff(client, db_session, report)
    (marker,) = client.get("/triage/map.json").json["points"]
    assert marker["somewhere"] is False
