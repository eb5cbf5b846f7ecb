"""Public places as police.uk makes them: a report's point replaced by the nearest anonymous
map point in the same ward.

police.uk snaps every crime to one of a fixed list of points, each over a street or public place
whose catchment holds at least eight postal addresses (or none); the method was agreed with the
Information Commissioner's Office. Lewisham's list of those points ships in ``geo/data``. A
point snaps only within its own ward, so a public place never crosses a ward boundary, and only
within ``MAX_SNAP_DISTANCE_M``: where police.uk has no point that close, the place is given as
the ward alone, never as the exact point.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from geo import DATA_DIR
from geo.projection import transformer_to_bng

SNAP_POINTS_FILE = DATA_DIR / "lewisham_street_points_from_police.csv"
MAX_SNAP_DISTANCE_M = 250.0


@dataclass(frozen=True)
class SnapPoint:
    """One anonymous map point: the street or place it sits on, where, and in which ward."""

    name: str
    lon: float
    lat: float
    ward_code: str


def read_snap_points(path: Path = SNAP_POINTS_FILE) -> list[SnapPoint]:
    """The police.uk map points shipped for Lewisham."""
    with path.open(newline="", encoding="utf-8") as lines:
        return [
            SnapPoint(
                name=row["name"],
                lon=float(row["longitude"]),
                lat=float(row["latitude"]),
                ward_code=row["ward_2022_code"],
            )
            for row in csv.DictReader(lines)
        ]


class SnapPoints:
    """Nearest map point in a ward, in metres on the British National Grid."""

    def __init__(self, points: Iterable[SnapPoint]) -> None:
        by_ward: dict[str, list[SnapPoint]] = defaultdict(list)
        for point in points:
            by_ward[point.ward_code].append(point)
        to_bng = transformer_to_bng()
        self._wards: dict[str, tuple[list[SnapPoint], shapely.STRtree]] = {}
        for ward_code, ward_points in by_ward.items():
            xs, ys = to_bng.transform([p.lon for p in ward_points], [p.lat for p in ward_points])
            tree = shapely.STRtree(shapely.points(np.column_stack([xs, ys])))
            self._wards[ward_code] = (ward_points, tree)

    @classmethod
    def shipped(cls) -> SnapPoints:
        """The index of the shipped Lewisham points."""
        return cls(read_snap_points())

    def nearest(self, lon: float, lat: float, ward_code: str) -> SnapPoint | None:
        """The map point nearest (lon, lat) in the ward, or None if none is close enough."""
        if ward_code not in self._wards:
            return None
        points, tree = self._wards[ward_code]
        x, y = transformer_to_bng().transform(lon, lat)
        found = tree.query_nearest(shapely.Point(x, y), max_distance=MAX_SNAP_DISTANCE_M)
        if len(found) == 0:
            return None
        return points[int(found[0])]
