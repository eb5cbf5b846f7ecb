"""Point to ward lookup and the borough check on shapely geometries.

Points on a shared boundary belong to a ward (``covers`` semantics, as PostGIS
``ST_Covers``); when a point is covered by several wards the lowest ward code wins,
so the answer never depends on load order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo import DATA_DIR

WARDS_FILE = DATA_DIR / "lewisham_wards_2022.geojson"
BOROUGH_FILE = DATA_DIR / "lewisham_borough_boundary.geojson"


@dataclass(frozen=True)
class WardShape:
    """A ward's identity and boundary (WGS84 longitude/latitude)."""

    code: str
    name: str
    geometry: BaseGeometry


def read_wards_geojson(path: Path = WARDS_FILE) -> list[WardShape]:
    """Read ONS ward features (``WD22CD``/``WD22NM`` properties) from a GeoJSON file."""
    features = json.loads(path.read_text())["features"]
    return [
        WardShape(
            code=f["properties"]["WD22CD"],
            name=f["properties"]["WD22NM"],
            geometry=shape(f["geometry"]),
        )
        for f in features
    ]


class WardIndex:
    """Answers which ward covers a point, one at a time or for arrays of points."""

    def __init__(self, wards: Iterable[WardShape]) -> None:
        self.wards = sorted(wards, key=lambda w: w.code)
        self._geometries = np.array([w.geometry for w in self.wards], dtype=object)
        shapely.prepare(self._geometries)
        self._tree = shapely.STRtree(self._geometries)
        self._bounds = shapely.bounds(self._geometries)

    @classmethod
    def from_geojson(cls, path: Path = WARDS_FILE) -> WardIndex:
        """Build the index from a ward GeoJSON file (the shipped 2022 wards by default)."""
        return cls(read_wards_geojson(path))

    def ward_for_point(self, lon: float, lat: float) -> WardShape | None:
        """Return the ward covering the point, or None outside every ward."""
        hits = self._tree.query(shapely.Point(lon, lat), predicate="covered_by")
        if len(hits) == 0:
            return None
        return self.wards[int(hits.min())]

    def ward_indices(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """Return the index into ``self.wards`` of each point's ward, -1 where none.

        Vectorised, without building point objects: each ward in code order tests only the
        points in its bounding box that no lower-coded ward has claimed, with
        ``intersects_xy`` on its prepared geometry (for a point, the same as covered-by).
        So a boundary point goes to the lowest code, as in ``ward_for_point``.
        """
        xs = np.ascontiguousarray(lons, dtype=float)
        ys = np.ascontiguousarray(lats, dtype=float)
        result = np.full(len(xs), -1, dtype=np.int64)
        for i, (geometry, (x0, y0, x1, y1)) in enumerate(
            zip(self._geometries, self._bounds, strict=True)
        ):
            candidates = np.flatnonzero(
                (result == -1) & (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
            )
            if len(candidates):
                hits = shapely.intersects_xy(geometry, xs[candidates], ys[candidates])
                result[candidates[hits]] = i
        return result


class Borough:
    """The borough outline, for the in/out-of-borough check."""

    def __init__(self, geometry: BaseGeometry, name: str = "Lewisham") -> None:
        self.name = name
        self.geometry = geometry
        shapely.prepare(self.geometry)

    @classmethod
    def from_geojson(cls, path: Path = BOROUGH_FILE) -> Borough:
        """Build the borough outline from a one-feature GeoJSON file."""
        feature = json.loads(path.read_text())["features"][0]
        return cls(shape(feature["geometry"]), feature["properties"].get("LAD22NM", "Lewisham"))

    def covers(self, lon: float, lat: float) -> bool:
        """True when the point is inside the borough or on its boundary."""
        return bool(self.geometry.covers(shapely.Point(lon, lat)))
