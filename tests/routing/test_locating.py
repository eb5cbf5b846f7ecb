"""Locating a report the worker could not place, by a triage partner, then routing it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.errors import Conflict, InvalidInput, NotAllowed
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import Report, ReportAccess, ReportEvent, ReportStatus, Role
from safer_streets.routing import locating, processing
from tests.helpers import PASSWORD, PASSWORDS, csrf_token, login

CATFORD_BROADWAY = (-0.0207, 51.4452)


def unplaced_report(db_session, wards, places, category="fly-tipping", text="by the big tree"):
    submission = parse_submission(
        {"category": category, "location_text": text, "description": "Sofa dumped"}
    )
    report, _ = submit_report(db_session, submission, places=places)
    processing.process_reports(db_session, [report.id], wards, places)
    db_session.refresh(report)
    assert report.status is ReportStatus.NEEDS_LOCATION
    return report


def user(db_session, email, role, partner=None):
    return users.create_user(
        db_session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )


def signed_in(app, email):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    login(client, email)
    return client


def test_a_partner_picks_a_gazetteer_candidate_and_the_report_is_routed(
    app, db_session, wards, places
):
    report = unplaced_report(db_session, wards, places)
    user(db_session, "cs@lewisham.example", Role.STAFF, "lewisham-community-safety")
    client = signed_in(app, "cs@lewisham.example")

    queue = client.get("/triage/locate")
    assert report.reference in queue.text
    assert "by the big tree" in queue.text
    assert "To locate (1)" in queue.text

    page_url = f"/triage/reports/{report.reference}/locate"
    page = client.get(page_url + "?q=rushey+grn")
    assert page.status_code == 200
    assert "Use Rushey Green" in page.text
    token = csrf_token(client, page_url)
    response = client.post(page_url, data={"csrf_token": token, "q": "rushey grn", "choice": "0"})
    assert response.status_code == 303
    after = client.get(response.headers["Location"]).text
    assert f"{report.reference} is placed and routed." in after
    assert "goes to Lewisham Council Environment Services (borough-wide rule)" in after
    assert "No reports are waiting for a place." in after
    assert "To locate (" not in after

    db_session.refresh(report)
    assert report.status is ReportStatus.ROUTED
    assert report.ward.name == "Rushey Green"
    assert report.owner.slug == "lewisham-environment"
    assert report.street == "Rushey Green"
    events = db_session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    ).all()
    assert [e.kind for e in events] == ["submitted", "needs_location", "located", "routed"]
    located, routed = events[-2:]
    assert located.actor.email == routed.actor.email == "cs@lewisham.example"
    assert "Placed at Rushey Green" in located.note
    assert "“by the big tree”" in located.note
    assert routed.from_status == "needs_location"
    assert routed.note == report.routing_reason


def test_locating_routes_exactly_as_the_worker_routes_a_point(db_session, wards, places):
    report = unplaced_report(db_session, wards, places, category="drug-dealing")
    officer = user(db_session, "cs2@lewisham.example", Role.STAFF, "lewisham-community-safety")
    decision = locating.locate_report(
        db_session,
        officer,
        report.reference,
        locating.MapPoint(*CATFORD_BROADWAY),
        wards=wards,
        places=places,
    )
    twin, _ = submit_report(
        db_session,
        parse_submission(
            {
                "category": "drug-dealing",
                "lon": CATFORD_BROADWAY[0],
                "lat": CATFORD_BROADWAY[1],
                "description": "Dealing",
            }
        ),
        places=places,
    )
    processing.process_reports(db_session, [twin.id], wards, places)
    db_session.refresh(report)
    db_session.refresh(twin)
    assert decision.owner.slug == "met-snt-rushey-green"
    assert report.owner_partner_id == twin.owner_partner_id
    assert [p.slug for p in report.notified] == [p.slug for p in twin.notified]
    assert report.routing_reason == twin.routing_reason
    assert "met-town-centre-team" in [p.slug for p in report.notified]

    with pytest.raises(Conflict, match="already has a place"):
        locating.locate_report(
            db_session,
            officer,
            report.reference,
            locating.MapPoint(*CATFORD_BROADWAY),
            wards=wards,
            places=places,
        )


@pytest.mark.parametrize(
    ("lat", "lon", "field", "message"),
    [
        ("51.5072", "-0.1276", "location", "outside Lewisham"),
        ("-0.0207", "51.4452", "location", "swapped"),
        ("0", "0", "location", "not a real location"),
        ("north", "-0.02", "lat", "must be a number"),
        ("", "-0.02", "lat", "is required"),
        ("nan", "-0.02", "lat", "finite"),
    ],
)
def test_a_point_that_cannot_be_used_is_refused_next_to_its_field(
    app, db_session, wards, places, lat, lon, field, message
):
    report = unplaced_report(db_session, wards, places)
    user(db_session, "cs3@lewisham.example", Role.STAFF, "lewisham-community-safety")
    client = signed_in(app, "cs3@lewisham.example")
    page_url = f"/triage/reports/{report.reference}/locate"
    token = csrf_token(client, page_url)
    response = client.post(page_url, data={"csrf_token": token, "lat": lat, "lon": lon})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert message in response.text
    db_session.refresh(report)
    assert report.status is ReportStatus.NEEDS_LOCATION


def test_only_the_triage_partner_or_an_admin_may_locate(app, db_session, wards, places):
    report = unplaced_report(db_session, wards, places)
    snt = user(db_session, "snt@lewisham.example", Role.STAFF, "met-snt-rushey-green")
    board = user(db_session, "board@lewisham.example", Role.BOARD)
    admin = user(db_session, "admin@lewisham.example", Role.ADMIN)
    point = locating.MapPoint(*CATFORD_BROADWAY)
    kwargs = {"wards": wards, "places": places}
    with pytest.raises(Exception, match="no report"):
        locating.locate_report(db_session, snt, report.reference, point, **kwargs)
    with pytest.raises(NotAllowed):
        locating.locate_report(db_session, board, report.reference, point, **kwargs)
    locating.locate_report(db_session, admin, report.reference, point, **kwargs)
    assert db_session.get(Report, report.id).status is ReportStatus.ROUTED
    client = signed_in(app, "snt@lewisham.example")
    assert client.get(f"/triage/reports/{report.reference}/locate").status_code == 404


def test_a_point_must_be_inside_lewisham(db_session, wards, places):
    report = unplaced_report(db_session, wards, places)
    officer = user(db_session, "cs4@lewisham.example", Role.STAFF, "lewisham-community-safety")
    with pytest.raises(InvalidInput) as raised:
        locating.locate_report(
            db_session,
            officer,
            report.reference,
            locating.MapPoint(lon=0.0, lat=51.48),
            wards=wards,
            places=places,
        )
    assert "outside Lewisham" in raised.value.field_errors["location"]


def test_views_of_a_sensitive_unplaced_report_are_logged(app, db_session, wards, places):
    report = unplaced_report(
        db_session, wards, places, category="harassment", text="outside my flat 7"
    )
    officer = user(db_session, "cs@lewisham.example", Role.STAFF, "lewisham-community-safety")
    client = signed_in(app, officer.email)

    assert "outside my flat 7" in client.get("/triage/locate").text
    assert "outside my flat 7" in client.get(f"/triage/reports/{report.reference}/locate").text
    surfaces = db_session.scalars(
        select(ReportAccess.surface)
        .where(ReportAccess.report_id == report.id, ReportAccess.user_id == officer.id)
        .order_by(ReportAccess.id)
    ).all()
    assert surfaces == ["reports to locate", "locate page"]
