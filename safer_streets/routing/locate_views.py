"""Triage pages for reports whose place could not be found: find it, and route the report."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from geo.wards import WardIndex
from safer_streets import places
from safer_streets.bounds import whole_number
from safer_streets.casework import access
from safer_streets.disclosure import access_log
from safer_streets.disclosure.policy import disclose
from safer_streets.errors import InvalidInput
from safer_streets.routing import locating
from safer_streets.web.clients import client_address
from safer_streets.web.context import current_user, db, login_required, services

bp = Blueprint("locate", __name__)
WARDS_KEY = "safer_streets.ward_index"
LOCATE_PAGE = "locate page"
WAITING_PAGE = "reports to locate"


def ward_index() -> WardIndex:
    """The active wards as an in-memory index, built on first use by this process (the
    locate page and the routing tester share it)."""
    if WARDS_KEY not in current_app.extensions:
        current_app.extensions[WARDS_KEY] = places.load_ward_index(db())
    return current_app.extensions[WARDS_KEY]


@bp.get("/triage/locate")
@login_required
def waiting():
    """Reports waiting for someone to find their place."""
    user = current_user()
    # Each row shows what the resident typed for the place: detail of a sensitive report.
    rows = access.disclosures_among_visible(user, locating.reports_to_locate(db(), user))
    access_log.record_views(db(), rows, viewer=user, surface=WAITING_PAGE, address=client_address())
    db().commit()
    return render_template("routing/waiting.html", reports=rows)


@bp.route("/triage/reports/<reference>/locate", methods=["GET", "POST"])
@login_required
def locate(reference: str):
    """Search for the place the resident meant, or pick a point; then route the report."""
    user = current_user()
    report = locating.report_to_locate(db(), user, reference)
    shown = disclose(report, access.audience_for(db(), user, report))
    query = request.values.get("q", shown.location_text or "")
    errors: dict[str, str] = {}
    point_form = {"lat": "", "lon": ""}
    found = locating.candidates(services().places, query)
    if request.method == "POST":
        try:
            choice = whole_number(request.form.get("choice"))
            if choice is not None:
                if choice >= len(found):
                    raise InvalidInput({"choice": "that place is no longer offered: search again"})
                place = found[choice]
            else:
                point_form = {
                    "lat": request.form.get("lat", ""),
                    "lon": request.form.get("lon", ""),
                }
                place = locating.parse_point(point_form["lat"], point_form["lon"])
            decision = locating.locate_report(
                db(), current_user(), reference, place, wards=ward_index(), places=services().places
            )
            db().commit()
            # Back to the list: the report may now belong to a partner whose queue this is not.
            flash(f"{report.reference} is placed and routed. {decision.reason}")
            return redirect(url_for("locate.waiting"), code=303)
        except InvalidInput as invalid:
            db().rollback()
            errors = invalid.field_errors
            report = locating.report_to_locate(db(), user, reference)
            shown = disclose(report, access.audience_for(db(), user, report))
    access_log.record_views(
        db(), [shown], viewer=user, surface=LOCATE_PAGE, address=client_address()
    )
    db().commit()
    return (
        render_template(
            "routing/locate.html",
            report=report,
            shown=shown,
            query=query,
            candidates=found,
            errors=errors,
            point_form=point_form,
            map_tiles_url=services().settings.map_tiles_url,
        ),
        422 if errors else 200,
    )


@bp.app_context_processor
def waiting_count() -> dict[str, int]:
    """How many reports wait for the signed-in user to locate them, for the navigation."""
    user = current_user()
    return {"reports_to_locate": locating.count_to_locate(db(), user) if user else 0}
