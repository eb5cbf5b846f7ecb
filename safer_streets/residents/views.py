"""Residents' pages: reports around a place (list and map), area alerts and Atom feeds."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request

from safer_streets.residents import boundaries, listing
from safer_streets.web.context import db, services

bp = Blueprint("residents", __name__)

# The outlines change only with a new release; a day in caches keeps the map quick to open.
OUTLINES_MAX_AGE = 24 * 60 * 60


@bp.get("/around")
def around():
    """Public reports, filtered, as a list that needs no JavaScript and a map that adds pins."""
    choices = listing.Choices.load(db())
    filters = listing.parse_filters(request.args, choices)
    page = listing.page_of_reports(db(), filters, datetime.now(UTC))
    return render_template(
        "residents/around.html",
        choices=choices,
        filters=filters,
        page=page,
        day_choices=listing.DAY_CHOICES,
        map_tiles_url=services().settings.map_tiles_url,
    )


@bp.get("/around/boundaries.geojson")
def outlines() -> Response:
    """The borough and ward outlines the map draws, cached by browsers and proxies."""
    shipped = boundaries.outlines()
    response = Response(shipped.body, mimetype="application/geo+json")
    response.set_etag(shipped.etag)
    response.cache_control.public = True
    response.cache_control.max_age = OUTLINES_MAX_AGE
    return response.make_conditional(request)
