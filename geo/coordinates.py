"""Checks a submitted point before anything is stored, with messages a person can act on."""

from __future__ import annotations

import math

from geo.wards import Borough


class PointRejected(ValueError):
    """The point cannot be used; ``field`` is ``lat``, ``lon`` or ``location``."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


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
    raise PointRejected(
        "location",
        f"this point is outside {borough.name}: please report it to the council for that area",
    )
