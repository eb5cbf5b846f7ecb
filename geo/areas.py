"""Named areas of interest (town centres) read from GeoJSON as shapely geometries."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from shapely.geometry import MultiPolygon, Polygon, shape

from geo import DATA_DIR

TOWN_CENTRES_FILE = DATA_DIR / "lewisham_town_centres.geojson"


@dataclass(frozen=True)
class AreaShape:
    """An area's identity and boundary (WGS84 longitude/latitude, always a MultiPolygon)."""

    slug: str
    name: str
    kind: str
    geometry: MultiPolygon


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def read_town_centres(path: Path = TOWN_CENTRES_FILE) -> list[AreaShape]:
    """GLA town-centre boundaries (``sitename`` property), e.g. 'catford-town-centre'."""
    areas = []
    for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
        name = f"{feature['properties']['sitename']} town centre"
        geometry = shape(feature["geometry"])
        if isinstance(geometry, Polygon):
            geometry = MultiPolygon([geometry])
        areas.append(AreaShape(_slug(name), name, "town-centre", geometry))
    return sorted(areas, key=lambda area: area.slug)
