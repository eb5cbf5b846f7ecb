"""A report typed as a street is checked against similar reports nearby without JavaScript,
just as a pin is; and the form records where its point came from."""

from __future__ import annotations

import re
import uuid

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select

from safer_streets.models import Category, PlacedFrom, Report, ReportStatus


def earlier_report_on(session, places, street: str) -> Report:
    """An open report placed from the same typed street, at the street's gazetteer point."""
    [found] = places.gazetteer.search(street, limit=1)
    category = session.scalars(select(Category).where(Category.slug == "fly-tipping")).one()
    report = Report(
        reference="LEW-NEAR3",
        category=category,
        description="Earlier report",
        location=from_shape(Point(found.lon, found.lat), srid=4326),
        location_text=street,
        street=street,
        status=ReportStatus.ROUTED,
    )
    session.add(report)
    session.flush()
    return report


def typed_form(**fields):
    return {
        "submission_id": str(uuid.uuid4()),
        "category": "fly-tipping",
        "description": "Mattress dumped",
        "location_text": "Catford Broadway",
    } | fields


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Report))


def test_without_javascript_a_typed_street_is_offered_similar_reports_first(
    client, db_session, places
):
    existing = earlier_report_on(db_session, places, "Catford Broadway")
    before = count(db_session)
    response = client.post("/report", data=typed_form())
    assert response.status_code == 200
    assert "Is this the same? Add your voice instead" in response.text
    assert existing.reference in response.text
    assert count(db_session) == before

    carried = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', response.text))
    assert carried["location_text"] == "Catford Broadway"
    assert carried["nearby_checked"] == "yes"
    sent = client.post("/report", data=carried)
    assert sent.status_code == 303
    assert count(db_session) == before + 1


def test_a_typed_street_with_nothing_similar_goes_straight_through(client, db_session):
    response = client.post("/report", data=typed_form(location_text="Rushey Green"))
    assert response.status_code == 303


def test_the_form_records_a_picked_place_and_the_devices_location(client, db_session, places):
    [broadway] = places.gazetteer.search("Catford Broadway", limit=1)
    at_broadway = {"lat": f"{broadway.lat:.6f}", "lon": f"{broadway.lon:.6f}"}
    picked = client.post(
        "/report",
        data=typed_form(point_from="place", nearby_checked="yes", **at_broadway),
    )
    device = client.post(
        "/report",
        data=typed_form(
            point_from="device",
            location_text="",
            nearby_checked="yes",
            lat="51.4452",
            lon="-0.0207",
        ),
    )
    # Claiming a picked place whose point is not that place's is a pin.
    moved = client.post(
        "/report",
        data=typed_form(point_from="place", nearby_checked="yes", lat="51.4460", lon="-0.0207"),
    )
    made = {}
    for name, response in (("picked", picked), ("device", device), ("moved", moved)):
        assert response.status_code == 303, response.text
        reference = re.search(r"/report/(LEW-[2-9A-Z]{5})/sent", response.headers["Location"])
        made[name] = db_session.scalars(
            select(Report).where(Report.reference == reference.group(1))
        ).one()
    assert made["picked"].placed_from == PlacedFrom.TYPED_PLACE
    assert made["picked"].place_extent.label == "Catford Broadway"
    assert made["device"].placed_from == PlacedFrom.DEVICE
    assert made["device"].place_extent_id is None
    assert made["moved"].placed_from == PlacedFrom.PIN
    assert made["moved"].place_extent_id is None
