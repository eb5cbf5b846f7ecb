"""Checks a submitted point before anything is stored, with messages a person can act on."""

from __future__ import annotations

import math

import shapely

from geo.wards import Borough

# Lewisham meets the Thames between the South Dock entrance and the mouth of Deptford Creek,
# where the shipped boundary (ONS, clipped to the coastline) follows the river bank. A pin
# dropped just north of that bank is in the water, not in a neighbouring borough: the river
# there is about 300 m wide, so 200 m (0.0018 degrees of latitude) stays clear of the far bank.
THAMES_REACH_LONGITUDES = (-0.0398, -0.0249)
THAMES_OFFSHORE_DEGREES = 0.0018


class PointRejected(ValueError):
    """The point cannot be used; ``field`` is ``lat``, ``lon`` or ``location``."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


def in_the_thames(lat: float, lon: float, borough: Borough) -> bool:
    """True for a point in the river just off Lewisham's bank (outside the borough)."""
    west, east = THAMES_REACH_LONGITUDES
    if not west <= lon <= east or borough.covers(lon, lat):
        return False
    meridian = shapely.LineString([(lon, lat - 1), (lon, lat + 1)])
    bank = shapely.bounds(borough.geometry.intersection(meridian))[3]
    return bool(bank < lat <= bank + THAMES_OFFSHORE_DEGREES)


def check_point(lat: float, lon: float, borough: Borough) -> None:
    """Raise ``PointRejected`` unless (lat, lon) is a real point inside the borough."""
    for field, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if not math.isfinite(value):
            raise PointRejected(field, "must be a finite number")
        if abs(value) > limit:
            raise PointRejected(field, f"must be between -{limit:g} and {limit:g}")
    if lat == 0 and lon == 0:
        # (0, 0) is what a phone sends when it has no fix: say so rather than "outside".
        raise PointRejected("location", "0, 0 is not a real location: the position was not found")
    if borough.covers(lon, lat):
        return
    if borough.covers(lat, lon):
        raise PointRejected(
            "location",
            "latitude and longitude look swapped: Lewisham is at about latitude 51.45, "
            "longitude -0.02",
        )
    if in_the_thames(lat, lon, borough):
        raise PointRejected(
            "location",
            "this point is in the River Thames: move it onto the bank if the problem is on land "
            "in Lewisham; for the river itself, contact the Port of London Authority",
        )
    raise PointRejected(
        "location",
        f"this point is outside {borough.name}: please report it to the council for that area",
    )
