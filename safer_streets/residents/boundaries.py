"""The borough and ward outlines for the public map, from the shipped boundaries.

Drawn under the pins so that the map says where Lewisham and its wards are even when no map
tiles load. Simplified to about 5 m and rounded to 5 decimals (about 1 m): the outlines stay
true at street zoom while a phone downloads a fraction of the shipped files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from shapely.geometry import mapping

from geo.projection import read_boundary
from geo.wards import read_wards_geojson

# Degrees; about 5 m in Lewisham.
TOLERANCE = 0.00005
DECIMALS = 5


@dataclass(frozen=True)
class Outlines:
    """The outlines as GeoJSON bytes, with a version for caching."""

    body: bytes
    etag: str


def _rounded(coordinates: Any) -> Any:
    if isinstance(coordinates, (int, float)):
        return round(coordinates, DECIMALS)
    return [_rounded(part) for part in coordinates]


def _feature(geometry: Any, **properties: str) -> dict[str, Any]:
    shape = mapping(geometry.simplify(TOLERANCE, preserve_topology=True))
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": shape["type"], "coordinates": _rounded(shape["coordinates"])},
    }


@cache
def outlines() -> Outlines:
    """The borough (first) and its wards as one FeatureCollection, built once per process."""
    features = [_feature(read_boundary(), kind="borough", name="Lewisham")]
    features += [
        _feature(ward.geometry, kind="ward", name=ward.name, code=ward.code)
        for ward in sorted(read_wards_geojson(), key=lambda ward: ward.name)
    ]
    body = json.dumps(
        {"type": "FeatureCollection", "features": features}, separators=(",", ":")
    ).encode()
    return Outlines(body, hashlib.sha256(body).hexdigest()[:16])
