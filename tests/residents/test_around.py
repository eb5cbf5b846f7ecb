"""The public map and list at /around: only what the disclosure policy lets the public see."""

from __future__ import annotations

import json
import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from geo.snapping import read_snap_points
from safer_streets.models import ReportStatus
from tests.residents.conftest import LEWISHAM_CENTRAL, exact_point


def rows(html: str) -> list[str]:
    return re.findall(r"<li[^>]*data-ref=\"([^\"]+)\"", html)


def test_the_list_shows_listed_reports_and_never_harassment_or_held(client: FlaskClient, kinds):
    html = client.get("/around").text
    shown = rows(html)
    assert kinds["fly-tipping"].reference in shown
    assert kinds["drug-dealing"].reference in shown
    assert kinds["harassment"].reference not in html
    assert kinds["held"].reference not in html
    assert "followed me" not in html
    assert "Harassment" not in html.split('id="results"')[1]
    # Each row: category, place, time in words, status in residents' words, link to tracking.
    assert f'href="/track/{kinds["fly-tipping"].reference}"' in html
    assert "Sent to Lewisham Council Environment Services" in html
    assert "Routed" not in html.split('id="results"')[1]


def test_a_safety_report_is_pinned_at_a_police_uk_point_never_its_own_spot(
    client: FlaskClient, kinds
):
    report = kinds["drug-dealing"]
    html = client.get("/around").text
    pin = re.search(rf'data-lat="([^"]+)" data-lon="([^"]+)" data-ref="{report.reference}"', html)
    assert pin is not None
    lat, lon = float(pin.group(1)), float(pin.group(2))
    assert (lat, lon) != exact_point(report)
    points = {(p.lat, p.lon) for p in read_snap_points()}
    assert (lat, lon) in points
    assert str(exact_point(report)[0]) not in html
    # The resident's words stay private until a partner publishes a checked version.
    assert "AB12" not in html
    # The exact spot of an environmental report is its point.
    fly = kinds["fly-tipping"]
    assert f'data-lat="{exact_point(fly)[0]}" data-lon="{exact_point(fly)[1]}"' in html


def test_filters_by_category_ward_town_centre_status_and_time(
    client: FlaskClient, db_session: Session, kinds, routed_report
):
    far = routed_report(
        db_session, category="fly-tipping", lat=LEWISHAM_CENTRAL[0], lon=LEWISHAM_CENTRAL[1]
    )
    fly, drugs = kinds["fly-tipping"].reference, kinds["drug-dealing"].reference

    assert set(rows(client.get("/around?category=fly-tipping").text)) == {fly, far.reference}
    assert set(rows(client.get("/around?ward=rushey-green").text)) == {fly, drugs}
    assert set(rows(client.get("/around?area=catford-town-centre").text)) == {fly, drugs}
    assert rows(client.get("/around?ward=lewisham-central").text) == [far.reference]

    kinds["fly-tipping"].status = ReportStatus.RESOLVED
    db_session.flush()
    closed = client.get("/around?status=closed").text
    assert rows(closed) == [fly]
    assert "Fixed" in closed
    assert fly not in rows(client.get("/around?status=open").text)

    kinds["drug-dealing"].created_at = kinds["drug-dealing"].created_at.replace(year=2020)
    db_session.flush()
    assert drugs not in rows(client.get("/around?days=365").text)


def test_filters_not_understood_are_named_and_left_out(client: FlaskClient, kinds):
    response = client.get("/around?ward=atlantis&days=9999&status=maybe")
    assert response.status_code == 200
    assert "Some filters were left out" in response.text
    assert kinds["fly-tipping"].reference in rows(response.text)


def test_the_list_pages(client: FlaskClient, db_session: Session, routed_report):
    made = [routed_report(db_session, category="fly-tipping") for _ in range(21)]
    first = client.get("/around?category=fly-tipping").text
    assert len(rows(first)) == 20
    assert 'rel="next"' in first
    second = client.get("/around?category=fly-tipping&page=2").text
    assert rows(second) == [made[0].reference]
    assert 'rel="prev"' in second


def test_the_outlines_are_the_borough_and_its_wards_cached(client: FlaskClient):
    response = client.get("/around/boundaries.geojson")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert "public" in response.headers["Cache-Control"]
    outlines = json.loads(response.data)
    kinds = [feature["properties"]["kind"] for feature in outlines["features"]]
    assert kinds[0] == "borough" and kinds.count("ward") == 19
    again = client.get(
        "/around/boundaries.geojson", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_the_page_works_under_the_content_security_policy(client: FlaskClient, kinds):
    response = client.get("/around")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in response.text and "style=" not in response.text
    assert 'href="/around"' in client.get("/").text
