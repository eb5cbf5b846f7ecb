"""The worker places a typed street or place somewhere in its extent, and says how."""

from __future__ import annotations

from geoalchemy2.shape import to_shape
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import PlacedFrom, PlaceExtent, ReportEvent, ReportStatus, Role
from safer_streets.routing import locating, processing
from tests.helpers import PASSWORD, PASSWORDS


def typed(db_session, places, text, **fields):
    submission = parse_submission(
        {"category": "fly-tipping", "description": "Sofa dumped", "location_text": text} | fields
    )
    report, _ = submit_report(db_session, submission, places=places)
    return report


def test_a_typed_street_keeps_its_extent_and_how_it_was_placed(db_session, wards, places):
    first = typed(db_session, places, "Catford Broadway")
    second = typed(db_session, places, "catford bdwy")
    processing.process_reports(db_session, [first.id, second.id], wards, places)
    for report in (first, second):
        db_session.refresh(report)
        assert report.status is ReportStatus.ROUTED
        assert report.placed_from == PlacedFrom.TYPED_PLACE
    # One shared extent: the street's reach around its snap points.
    assert first.place_extent_id == second.place_extent_id
    extent = db_session.scalars(
        select(PlaceExtent).where(PlaceExtent.id == first.place_extent_id)
    ).one()
    assert (extent.kind, extent.label) == ("street", "Catford Broadway")
    shape = to_shape(extent.geom)
    assert shape.geom_type == "Polygon"
    assert shape.contains(to_shape(first.location))
    note = db_session.scalars(
        select(ReportEvent.note).where(
            ReportEvent.report_id == first.id, ReportEvent.kind == "geocoded"
        )
    ).one()
    assert note == "Placed “Catford Broadway” somewhere in Catford Broadway"


def test_a_town_centre_keeps_its_boundary(db_session, wards, places):
    report = typed(db_session, places, "Catford town centre")
    processing.process_reports(db_session, [report.id], wards, places)
    db_session.refresh(report)
    assert report.placed_from == PlacedFrom.TYPED_PLACE
    assert report.place_extent.label == "Catford town centre"
    assert to_shape(report.place_extent.geom).area > 1e-5


def test_points_and_postcodes_have_no_extent(db_session, wards, places):
    pin = typed(db_session, places, "", lat=51.4452, lon=-0.0207)
    postcode = typed(db_session, places, "SE6 4JU")
    processing.process_reports(db_session, [pin.id, postcode.id], wards, places)
    for report, how in ((pin, PlacedFrom.PIN), (postcode, PlacedFrom.POSTCODE)):
        db_session.refresh(report)
        assert report.placed_from == how
        assert report.place_extent_id is None


def test_text_that_matches_nothing_has_no_place_yet(db_session, wards, places):
    report = typed(db_session, places, "by the big tree")
    processing.process_reports(db_session, [report.id], wards, places)
    db_session.refresh(report)
    assert report.status is ReportStatus.NEEDS_LOCATION
    assert report.placed_from is None and report.place_extent_id is None


def test_staff_locating_by_name_keeps_the_extent_and_says_staff_placed_it(
    db_session, wards, places
):
    report = typed(db_session, places, "by the big tree")
    processing.process_reports(db_session, [report.id], wards, places)
    officer = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="cs@lewisham.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="lewisham-community-safety",
    )
    [street] = locating.candidates(places, "Rushey Green")[:1]
    locating.locate_report(
        db_session, officer, report.reference, street, wards=wards, places=places
    )
    db_session.refresh(report)
    assert report.status is ReportStatus.ROUTED
    assert report.placed_from == PlacedFrom.STAFF
    assert report.place_extent.label == "Rushey Green"
