"""JSON endpoints behind the resident's report page: places, similar reports and support (+1)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_babel import format_date, gettext, ngettext

from geo.suntimes import LONDON
from safer_streets.errors import InvalidInput
from safer_streets.intake import place_search, support
from safer_streets.web.clients import address_supporter, browser_supporter, verified_client
from safer_streets.web.context import db, services
from safer_streets.web.json_body import json_body
from safer_streets.web.limits import limiter, write_limit

bp = Blueprint("resident_api", __name__, url_prefix="/api/v1")

# The gazetteer only changes with a release: browsers and proxies may keep answers for a day,
# so a resident typing "Rushey" twice (or a thousand residents typing it) costs one lookup.
PLACES_MAX_AGE = 24 * 60 * 60


def _cached_json(body: Any, max_age: int) -> Response:
    response = jsonify(body)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/places")
def places():
    """Postcodes, streets and places matching ``q`` (suggestions as the resident types)."""
    verified_client()  # as everywhere under /api/v1: a key that is given must verify
    limit = place_search.parse_limit(request.args.get("limit"))
    found = place_search.suggest(services().places, request.args.get("q"), limit)
    return _cached_json(
        {"results": [place_search.candidate_json(c) for c in found]}, PLACES_MAX_AGE
    )


@bp.get("/places/reverse")
def reverse_place():
    """The nearest street and postcode, and the ward, of a point in Lewisham."""
    verified_client()
    lat = place_search.parse_coordinate(request.args.get("lat"), "lat")
    lon = place_search.parse_coordinate(request.args.get("lon"), "lon")
    result = place_search.describe_point(services().places, lat, lon)
    return _cached_json(place_search.reverse_json(result), PLACES_MAX_AGE)


@bp.get("/similar-reports")
def similar_reports():
    """Open reports of a category within 50 m of a point from the last 30 days."""
    verified_client()
    lat = place_search.parse_coordinate(request.args.get("lat"), "lat")
    lon = place_search.parse_coordinate(request.args.get("lon"), "lon")
    place_search.check_in_lewisham(services().places, lat, lon)
    category = request.args.get("category", "").strip()
    found = support.similar_open_reports(db(), category_slug=category, lon=lon, lat=lat)
    today = datetime.now(LONDON).date()
    response = jsonify(
        {
            "reports": [
                {
                    "reference": s.reference,
                    "category": s.category,
                    "street": s.street,
                    "distance_m": s.distance_m,
                    "created_at": s.created_at.isoformat(),
                    # The date in the page's language, from Babel: a browser's own formatting
                    # gives "12/3/2026" for an English page.
                    "created_on": format_date(s.created_at.astimezone(LONDON), "d MMMM y"),
                    "supporter_count": s.supporter_count,
                    # The row in words, in the page's language: "2 days ago", "about 40 m
                    # away", "nobody yet", as the page without JavaScript says them.
                    "words": dataclasses.asdict(support.similar_words(s, today, gettext, ngettext)),
                }
                for s in found
            ]
        }
    )
    response.cache_control.no_store = True
    return response


def _client_fingerprint() -> str:
    """Without a cookie or an Idempotency-Key, one client counts once: a hash, never the
    address itself."""
    seen = f"{request.remote_addr}|{request.user_agent.string}"
    return "client:" + hashlib.sha256(seen.encode()).hexdigest()


@bp.post("/reports/<reference>/support")
@limiter.limit(write_limit)
def add_support(reference: str):
    """Add a +1 to an open report: once per address, and once per verified API client or
    browser (its cookie); a repeat answers 200 with ``counted: false``. An optional JSON body
    gives the supporter's ``reasons``, ``occurred_at`` and ``email`` (``SupportDetails``),
    kept only when the voice counts."""
    raw = request.headers.get("Idempotency-Key", "").strip()
    if len(raw) > support.MAX_KEY_CHARS:
        message = f"must be at most {support.MAX_KEY_CHARS} characters"
        raise InvalidInput({"Idempotency-Key": message})
    client = verified_client()
    if client is not None:
        supporter = support.client_supporter(client)
    else:
        # The key (or, without one, the client's fingerprint) only seeds a new browser's id,
        # so that a retry before the cookie was stored counts once; it decides nothing else.
        supporter = browser_supporter(raw or _client_fingerprint())
    session = db()
    details = support.NO_DETAILS
    # The body is optional: a bare POST is a voice and nothing more, as it always was.
    if request.get_data(cache=True).strip():
        category = support.supportable(session, reference).report.category.slug
        details = support.parse_support_details(
            json_body(), support.offered_keys(session, category)
        )
    result = support.add_support(
        session,
        reference,
        supporters=[supporter, address_supporter(client)],
        source="api",
        details=details,
    )
    session.commit()
    response = jsonify(
        {
            "reference": result.report.reference,
            "supporter_count": result.report.supporter_count,
            "counted": result.counted,
        }
    )
    response.status_code = 201 if result.counted else 200
    if not result.counted:
        response.headers["Idempotent-Replayed"] = "true"
    return response
