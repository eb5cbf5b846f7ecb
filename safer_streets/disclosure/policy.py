"""What of a report may be shown in public: never a sensitive report's place, never exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

from geoalchemy2.shape import to_shape

from safer_streets.models import Report

# Public maps show the centre of a grid cell about 200 m across, never the reported point.
GRID_LAT_DEG = 0.002  # ~222 m
GRID_LON_DEG = 0.003  # ~208 m at Lewisham's latitude
AREA_RADIUS_M = 150


@dataclass(frozen=True)
class PublicArea:
    """A circle that contains the report's place without giving it away."""

    lon: float
    lat: float
    radius_m: int


def exact_point(report: Report) -> tuple[float, float] | None:
    """The report's (lon, lat), for the partners and the resident who reported it."""
    if report.location is None:
        return None
    point = to_shape(report.location)
    return point.x, point.y


def public_area(report: Report) -> PublicArea | None:
    """The coarse area to show the public; None for sensitive or unplaced reports."""
    point = exact_point(report)
    if point is None or report.category.sensitive or not report.category.public:
        return None
    lon, lat = point
    snapped_lat = (math.floor(lat / GRID_LAT_DEG) + 0.5) * GRID_LAT_DEG
    snapped_lon = (math.floor(lon / GRID_LON_DEG) + 0.5) * GRID_LON_DEG
    return PublicArea(round(snapped_lon, 5), round(snapped_lat, 5), AREA_RADIUS_M)
