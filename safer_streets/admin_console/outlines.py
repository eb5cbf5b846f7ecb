"""Reading an uploaded named-area outline: GeoJSON in, one valid MultiPolygon in Lewisham out.

Whatever the bytes, the answer is the outline or ``OutlineRefused`` naming what is wrong, in
words an administrator can act on. Nothing here touches the database.
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from safer_streets.errors import InvalidInput

MAX_BYTES = 2 * 1024 * 1024
MAX_VERTICES = 20_000
# WGS84 names a GeoJSON file may give; any other "crs" member means other coordinates.
WGS84_NAMES = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
}


class OutlineRefused(InvalidInput):
    """The upload is not an outline the console can use; ``field_errors["file"]`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__({"file": message}, message)


def _reject_constant(name: str) -> float:
    raise ValueError(name)


def _load(raw: bytes) -> Any:
    if len(raw) > MAX_BYTES:
        raise OutlineRefused(
            f"the file is {len(raw) / 1024 / 1024:.1f} MB: outlines may be at most "
            f"{MAX_BYTES // 1024 // 1024} MB (simplify it first)"
        )
    if not raw.strip():
        raise OutlineRefused("the file is empty: choose a GeoJSON file")
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise OutlineRefused("the file is not text: choose a GeoJSON (.geojson) file") from None
    except RecursionError:
        raise OutlineRefused("the file is not GeoJSON: it is nested too deeply") from None
    except ValueError as error:
        raise OutlineRefused(f"the file is not JSON ({error})") from None


def _geometries(document: Any) -> list[dict[str, Any]]:
    """The geometry objects of a Feature, a FeatureCollection or a bare geometry."""
    if not isinstance(document, dict):
        raise OutlineRefused("the file is JSON but not GeoJSON: expected a Feature")
    _check_crs(document)
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or not features:
            raise OutlineRefused("the FeatureCollection has no features")
        return [_feature_geometry(feature, number) for number, feature in enumerate(features, 1)]
    if kind == "Feature":
        return [_feature_geometry(document, None)]
    if kind in ("Polygon", "MultiPolygon"):
        return [document]
    if isinstance(kind, str) and kind:
        raise OutlineRefused(
            f"the file is a {kind[:40]}: upload a Feature or FeatureCollection of Polygons"
        )
    raise OutlineRefused('the file is JSON but not GeoJSON: it has no "type"')


def _check_crs(document: dict[str, Any]) -> None:
    crs = document.get("crs")
    if crs is None:
        return
    properties = crs.get("properties") if isinstance(crs, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str) or name not in WGS84_NAMES:
        shown = name[:60] if isinstance(name, str) else "not named"
        raise OutlineRefused(
            f"the coordinates are in another system ({shown}): export the outline as WGS84 "
            "longitude and latitude (EPSG:4326)"
        )


def _feature_geometry(feature: Any, number: int | None) -> dict[str, Any]:
    where = f"feature {number}" if number else "the feature"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise OutlineRefused(f"{where} is not a GeoJSON Feature")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict):
        raise OutlineRefused(f"{where} has no geometry")
    return geometry


def _position(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise OutlineRefused("a position is not [longitude, latitude]")
    if not all(
        isinstance(number, int | float) and not isinstance(number, bool) for number in value
    ):
        raise OutlineRefused("a position has something other than numbers in it")
    if abs(value[0]) > 180 or abs(value[1]) > 90:
        raise OutlineRefused(
            f"({str(value[0])[:20]}, {str(value[1])[:20]}) is not a longitude and latitude: "
            "the coordinates look like metres (British National Grid?); export the outline "
            "as WGS84 (EPSG:4326)"
        )
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise OutlineRefused("a position is not a finite number")
    return lon, lat


def _ring(value: Any) -> list[tuple[float, float]]:
    if not isinstance(value, list):
        raise OutlineRefused("a polygon's ring is not a list of positions")
    if len(value) < 4:
        raise OutlineRefused("a polygon's ring has fewer than four positions")
    ring = [_position(item) for item in value]
    if ring[0] != ring[-1]:
        raise OutlineRefused("a polygon's ring is not closed: its last position must be its first")
    return ring


class _Budget:
    """Points left before the outline is too detailed to keep and draw."""

    def __init__(self) -> None:
        self.left = MAX_VERTICES

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise OutlineRefused(
                f"the outline has more than {MAX_VERTICES:,} points: simplify it first"
            )


def _polygon(coordinates: Any, budget: _Budget) -> Polygon:
    if not isinstance(coordinates, list) or not coordinates:
        raise OutlineRefused("a polygon has no rings")
    rings = []
    for ring in coordinates:
        budget.spend(len(ring) if isinstance(ring, list) else 0)
        rings.append(_ring(ring))
    polygon = Polygon(rings[0], rings[1:])
    if not polygon.is_valid:
        raise OutlineRefused(
            f"the outline is not a valid polygon ({explain_validity(polygon)}): a ring must "
            "not cross itself, and holes must lie inside; fix it in a GIS program (e.g. "
            'QGIS\'s "Fix geometries")'
        )
    return polygon


def _polygons(geometry: dict[str, Any], budget: _Budget) -> list[Polygon]:
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        parts = [coordinates]
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise OutlineRefused("the MultiPolygon has no polygons")
        parts = coordinates
    else:
        shown = kind[:40] if isinstance(kind, str) else "geometry without a type"
        raise OutlineRefused(
            f"the geometry is a {shown}: an area's outline is a Polygon or a MultiPolygon"
        )
    return [_polygon(part, budget) for part in parts]


def parse_outline(raw: bytes, borough: BaseGeometry) -> MultiPolygon:
    """The uploaded outline as one valid MultiPolygon (WGS84) that overlaps ``borough``.

    Polygons that overlap or share an edge (neighbouring features) are merged into one shape.
    """
    budget = _Budget()
    polygons: list[Polygon] = []
    for geometry in _geometries(_load(raw)):
        polygons.extend(_polygons(geometry, budget))
    merged = shapely.union_all(polygons)
    if isinstance(merged, Polygon):
        merged = MultiPolygon([merged])
    if not isinstance(merged, MultiPolygon) or merged.is_empty or merged.area == 0:
        raise OutlineRefused("the outline encloses no area")
    if not shapely.intersects(merged, borough):
        swapped = shapely.transform(merged, lambda xy: xy[:, ::-1])
        if shapely.intersects(swapped, borough):
            raise OutlineRefused(
                "the outline is outside Lewisham, but would be inside with longitude and "
                "latitude swapped: GeoJSON gives longitude first"
            )
        raise OutlineRefused("the outline is outside Lewisham: an area must overlap the borough")
    return merged


def describe(outline: BaseGeometry) -> str:
    """A few words to tell two outlines apart in the history."""
    parts = len(outline.geoms) if isinstance(outline, MultiPolygon) else 1
    points = shapely.get_num_coordinates(outline)
    west, south, east, north = outline.bounds
    return (
        f"{parts} polygon{'s' if parts != 1 else ''}, {points} points, "
        f"within {west:.4f},{south:.4f} – {east:.4f},{north:.4f}"
    )
