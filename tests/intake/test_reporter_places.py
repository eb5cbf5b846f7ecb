"""A report whose typed place could not be found: its reporter puts it on the map from their
private link (a pin, or a postcode or street typed without JavaScript), and the worker routes
it. By reference alone nothing of this is offered."""

from __future__ import annotations

import html

from sqlalchemy import select

from safer_streets.casework.casefile import event_label
from safer_streets.intake import tracking
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import PlacedFrom, ReportEvent, ReportStatus
from safer_streets.routing import processing


def unplaced(db_session, wards, places, text="by the big tree"):
    submission = parse_submission(
        {"category": "fly-tipping", "location_text": text, "description": "Sofa dumped"}
    )
    report, _ = submit_report(db_session, submission, places=places)
    processing.process_reports(db_session, [report.id], wards, places)
    db_session.refresh(report)
    assert report.status is ReportStatus.NEEDS_LOCATION
    return report


def key_of(settings, report):
    return tracking.tracking_key(settings.secret_key, report.reference)


def test_the_reporter_types_a_street_without_javascript_and_the_worker_routes_it(
    client, db_session, wards, places, settings
):
    report = unplaced(db_session, wards, places)
    key = key_of(settings, report)
    page = html.unescape(client.get(f"/track/{report.reference}?key={key}").text)
    assert "Where is it? Please put it on the map" in page
    assert "We could not find “by the big tree” on the map." in page
    assert 'id="place-search"' in page and 'id="place-map"' in page

    found = client.get(f"/track/{report.reference}?key={key}&q=rushey+grn").text
    assert "Which place is it?" in found
    assert "Rushey Green" in found
    response = client.post(
        f"/track/{report.reference}/place?key={key}", data={"q": "rushey grn", "choice": "0"}
    )
    assert response.status_code == 303
    assert f"key={key}" in response.headers["Location"]
    followed = html.unescape(client.get(response.headers["Location"]).text)
    assert "Your report is on the map and is being sent to the right team." in followed
    assert "Where is it? Please put it on the map" not in followed
    assert "The reporter placed it on the map." in followed

    db_session.refresh(report)
    assert report.status is ReportStatus.RECEIVED
    assert report.placed_from == PlacedFrom.REPORTER
    assert report.place_extent.label == "Rushey Green"
    [event] = db_session.scalars(
        select(ReportEvent).where(
            ReportEvent.report_id == report.id, ReportEvent.kind == "placed_by_reporter"
        )
    ).all()
    assert event.public and event.actor_id is None
    assert event.data["by"] == "reporter" and event.data["label"] == "Rushey Green"
    assert event_label(event) == "Placed on the map by the reporter"

    processing.process_reports(db_session, [report.id], wards, places)
    db_session.refresh(report)
    assert report.status is ReportStatus.ROUTED
    assert report.ward.name == "Rushey Green"
    assert report.placed_from == PlacedFrom.REPORTER

    again = client.post(
        f"/track/{report.reference}/place?key={key}", data={"lat": "51.4452", "lon": "-0.0207"}
    )
    assert "already has a place" in client.get(again.headers["Location"]).text


def test_the_reporter_puts_a_pin_on_the_map(client, db_session, wards, places, settings):
    report = unplaced(db_session, wards, places)
    key = key_of(settings, report)
    response = client.post(
        f"/track/{report.reference}/place?key={key}", data={"lat": "51.4452", "lon": "-0.0207"}
    )
    assert response.status_code == 303
    db_session.refresh(report)
    assert report.status is ReportStatus.RECEIVED
    assert report.placed_from == PlacedFrom.REPORTER
    assert report.place_extent_id is None


def test_a_pin_outside_lewisham_or_none_at_all_is_refused_with_the_reason(
    client, db_session, wards, places, settings
):
    report = unplaced(db_session, wards, places)
    path = f"/track/{report.reference}/place?key={key_of(settings, report)}"
    outside = client.post(path, data={"lat": "51.5072", "lon": "-0.1276"})
    assert outside.status_code == 422
    assert "outside Lewisham" in outside.text
    nothing = client.post(path, data={})
    assert nothing.status_code == 422
    assert "Put a pin on the map where the problem is" in html.unescape(nothing.text)
    unknown = client.post(path, data={"q": "zzzz qqqq", "choice": "0"})
    assert unknown.status_code == 422
    assert "no longer offered" in unknown.text
    db_session.refresh(report)
    assert report.status is ReportStatus.NEEDS_LOCATION


def test_by_reference_alone_nothing_is_offered(client, db_session, wards, places):
    report = unplaced(db_session, wards, places)
    page = client.get(f"/track/{report.reference}")
    assert page.status_code == 200
    assert "Please put it on the map" not in page.text
    assert 'id="place-search"' not in page.text
    refused = client.post(
        f"/track/{report.reference}/place", data={"lat": "51.4452", "lon": "-0.0207"}
    )
    assert refused.status_code == 404
    refused = client.post(
        f"/track/{report.reference}/place?key=0123456789abcdef0123456789abcdef",
        data={"lat": "51.4452", "lon": "-0.0207"},
    )
    assert refused.status_code == 404
    db_session.refresh(report)
    assert report.status is ReportStatus.NEEDS_LOCATION
