"""Awkward locations through the JSON API: each refused with a message naming the field."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from safer_streets.models import Report

BODY = '{{"category": "fly-tipping", "description": "Sofa", "lat": {lat}, "lon": {lon}}}'


@pytest.mark.parametrize(
    ("lat", "lon", "field", "message"),
    [
        ("NaN", "-0.02", "lat", "must be a finite number"),
        ("51.45", "Infinity", "lon", "must be a finite number"),
        ("-Infinity", "-0.02", "lat", "must be a finite number"),
        ("0", "0", "location", "0, 0 is not a real location"),
        ("-0.0207", "51.4452", "location", "latitude and longitude look swapped"),
        ("51.4905", "-0.0300", "location", "this point is in the River Thames"),
        ("51.5072", "-0.1276", "location", "this point is outside Lewisham"),
        ('"51,4452"', "-0.0207", "lat", "must be a number"),
    ],
)
def test_a_point_that_cannot_be_used_is_refused_naming_the_field(
    client, db_session, lat, lon, field, message
):
    before = db_session.scalar(select(func.count()).select_from(Report))
    response = client.post(
        "/api/v1/reports",
        data=BODY.format(lat=lat, lon=lon),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert message in response.get_json()["errors"][field]
    assert db_session.scalar(select(func.count()).select_from(Report)) == before


def test_a_point_on_the_borough_boundary_is_accepted(client):
    # A vertex of the shipped boundary, where Lewisham meets Southwark.
    response = client.post(
        "/api/v1/reports",
        json={"category": "fly-tipping", "description": "Sofa", "lat": 51.492965, "lon": -0.039844},
    )
    assert response.status_code == 201, response.get_json()
