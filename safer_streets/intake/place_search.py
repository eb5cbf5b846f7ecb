"""Finding the place of a report: suggestions as a resident types, and "what is here?"."""

from __future__ import annotations

import math
from typing import Any

from geo.coordinates import PointRejected, check_point
from geo.gazetteer import Candidate, ReverseResult
from safer_streets.bounds import whole_number
from safer_streets.errors import InvalidInput
from safer_streets.places import Places

MAX_QUERY_CHARS = 100
MAX_LIMIT = 10
DEFAULT_LIMIT = 5


def parse_limit(raw: str | None) -> int:
    """The number of suggestions asked for: 1 to 10, 5 when not given."""
    if raw is None or not raw.strip():
        return DEFAULT_LIMIT
    value = whole_number(raw)
    if value is None or not 1 <= value <= MAX_LIMIT:
        raise InvalidInput({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return value


def suggest(places: Places, query: str | None, limit: int = DEFAULT_LIMIT) -> list[Candidate]:
    """Lewisham postcodes, streets and places matching what was typed, best first."""
    text = (query or "").strip()
    if not text:
        raise InvalidInput({"q": "type a postcode, street or place"})
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput({"q": f"must be at most {MAX_QUERY_CHARS} characters"})
    return places.gazetteer.search(text, limit=limit)


def parse_coordinate(raw: str | None, field: str) -> float:
    """A latitude or longitude from a query string, or ``InvalidInput`` naming the field."""
    if raw is None or not raw.strip():
        raise InvalidInput({field: "is required"})
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput({field: "must be a number"}) from None
    if not math.isfinite(value):
        raise InvalidInput({field: "must be a finite number"})
    return value


def check_in_lewisham(places: Places, lat: float, lon: float) -> None:
    """``InvalidInput`` naming ``lat``, ``lon`` or ``location`` unless the point is in Lewisham."""
    try:
        check_point(lat, lon, places.borough)
    except PointRejected as rejected:
        raise InvalidInput({rejected.field: rejected.message}) from None


def describe_point(places: Places, lat: float, lon: float) -> ReverseResult:
    """The nearest street and postcode and the ward of a point inside Lewisham."""
    check_in_lewisham(places, lat, lon)
    return places.gazetteer.reverse(lon, lat)


def _ward(code: str | None, name: str | None) -> dict[str, str] | None:
    return {"code": code, "name": name} if code and name else None


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    """A suggestion as the places API returns it."""
    return {
        "label": candidate.label,
        "kind": candidate.kind,
        "lat": round(candidate.lat, 6),
        "lon": round(candidate.lon, 6),
        "ward": _ward(candidate.ward_code, candidate.ward_name),
        "confidence": candidate.confidence,
    }


def reverse_json(result: ReverseResult) -> dict[str, Any]:
    """A reverse lookup as the places API returns it, with a label to show the resident."""
    parts = [result.street, result.postcode]
    return {
        "label": ", ".join(p for p in parts if p) or None,
        "street": result.street,
        "street_distance_m": result.street_distance_m,
        "postcode": result.postcode,
        "ward": _ward(result.ward_code, result.ward_name),
    }
