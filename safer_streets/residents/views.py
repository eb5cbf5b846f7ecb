"""Residents' pages: reports around a place (list and map), area alerts and Atom feeds."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext

from geo.suntimes import LONDON
from safer_streets.actions import partner_actions
from safer_streets.errors import InvalidInput
from safer_streets.residents import alerts, boundaries, feeds, listing, supporters
from safer_streets.web.context import db, services
from safer_streets.web.limits import limiter, submission_limit

bp = Blueprint("residents", __name__)

# The outlines change only with a new release; a day in caches keeps the map quick to open.
OUTLINES_MAX_AGE = 24 * 60 * 60
# The list is about reports; /you-said-we-did has every action.
ACTIONS_SHOWN = 5


@bp.get("/around")
def around():
    """Public reports, filtered, as a list that needs no JavaScript and a map that adds pins."""
    choices = listing.Choices.load(db())
    filters = listing.parse_filters(request.args, choices)
    now = datetime.now(UTC)
    page = listing.page_of_reports(db(), filters, now)
    actions = _actions(filters, now, limit=ACTIONS_SHOWN)
    return render_template(
        "residents/around.html",
        choices=choices,
        filters=filters,
        page=page,
        actions=actions,
        day_choices=listing.DAY_CHOICES,
        map_tiles_url=services().settings.map_tiles_url,
    )


def _actions(
    filters: listing.Filters, now: datetime, *, limit: int
) -> list[partner_actions.ShownAction]:
    """Partners' recent actions in the filtered ward or town centre (anywhere without one)."""
    return partner_actions.public_actions(
        db(),
        min_count=services().settings.board_min_count,
        today=now.astimezone(LONDON).date(),
        ward_slug=filters.ward.slug if filters.ward else None,
        area_slug=filters.area.slug if filters.area else None,
        limit=limit,
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


# ---- Alerts ----------------------------------------------------------------------------------


def _alert_form(values: dict[str, str], categories: list[str], errors: dict[str, str], status: int):
    return render_template(
        "residents/alert_new.html",
        choices=listing.Choices.load(db()),
        values=values,
        chosen=set(categories),
        # The form's messages are English, marked for translators where they are written.
        errors={field: gettext(message) for field, message in errors.items()},
        radius_choices=alerts.RADIUS_CHOICES,
        radius_words=alerts.radius_words,
    ), status


@bp.get("/alerts/new")
def new_alert():
    """The subscription form, filled in from the list's filters when it links here."""
    values = {
        "ward": request.args.get("ward", ""),
        "area": request.args.get("area", ""),
        "where": "area" if request.args.get("area") else "ward" if request.args.get("ward") else "",
        "frequency": "immediate",
        "radius": "500",
    }
    category = request.args.get("category", "")
    return _alert_form(values, [category] if category else [], {}, 200)


@bp.post("/alerts/new")
@limiter.limit(submission_limit, methods=["POST"])
def create_alert():
    """Store an unconfirmed subscription and send its confirmation email."""
    session = db()
    categories = request.form.getlist("category")
    try:
        subscription = alerts.parse_subscription(
            request.form, categories, listing.Choices.load(session), services().places
        )
    except InvalidInput as invalid:
        return _alert_form(request.form.to_dict(), categories, invalid.field_errors, 400)
    outbox_id = alerts.subscribe(session, subscription)
    session.commit()
    if outbox_id is not None:
        services().task_queue.send_emails([outbox_id])
    return redirect(url_for("residents.check_email"), 303)


@bp.get("/alerts/sent")
def check_email():
    """What happens next: the same words whatever the address already had."""
    return render_template("residents/alert_check_email.html")


def _link_page(template: str, signed: str, purpose: str):
    subscription = alerts.subscription_for(db(), signed, services().settings.secret_key, purpose)
    if subscription is None:
        return render_template("residents/alert_link_gone.html", purpose=purpose), 404
    return render_template(template, subscription=subscription, signed=signed)


@bp.get("/alerts/confirm/<signed>")
def confirm_page(signed: str):
    """A button to confirm: mail scanners that follow links must not confirm for anyone."""
    return _link_page("residents/alert_confirm.html", signed, "confirm")


@bp.post("/alerts/confirm/<signed>")
def confirm(signed: str):
    """Turn the subscription on."""
    session = db()
    subscription = alerts.confirm(
        session, signed, services().settings.secret_key, datetime.now(UTC)
    )
    if subscription is None:
        return render_template("residents/alert_link_gone.html", purpose="confirm"), 404
    session.commit()
    return render_template("residents/alert_confirmed.html", subscription=subscription)


@bp.get("/alerts/unsubscribe/<signed>")
def unsubscribe_page(signed: str):
    """A button to stop the emails; following the link alone changes nothing."""
    return _link_page("residents/alert_unsubscribe.html", signed, "unsubscribe")


@bp.post("/alerts/unsubscribe/<signed>")
def unsubscribe(signed: str):
    """Stop the emails and forget the address. Exempt from CSRF (RFC 8058: mail programs POST
    here with no page); the signed link is the proof. Done already reads the same."""
    session = db()
    alerts.unsubscribe(session, signed, services().settings.secret_key)
    session.commit()
    return render_template("residents/alert_unsubscribed.html")


@bp.get("/report/support/stop/<signed>")
def stop_supporter_emails_page(signed: str):
    """A button to stop a supporter's emails; following the link alone changes nothing (mail
    scanners follow links)."""
    found = supporters.supporter_for(db(), signed, services().settings.secret_key)
    if found is None:
        return render_template("residents/supporter_stopped.html"), 404
    return render_template("residents/supporter_stop.html", signed=signed)


@bp.post("/report/support/stop/<signed>")
def stop_supporter_emails(signed: str):
    """Stop the emails and forget the address. Exempt from CSRF (RFC 8058: mail programs POST
    here with no page); the signed link is the proof. Done already reads the same."""
    session = db()
    supporters.stop(session, signed, services().settings.secret_key)
    session.commit()
    return render_template("residents/supporter_stopped.html")


# ---- Atom feeds ------------------------------------------------------------------------------

# Feed readers poll; a few minutes in caches spares the database without delaying much.
FEED_MAX_AGE = 5 * 60
FEED_ACTIONS = 20


@bp.get("/around/feed.atom")
def feed() -> Response:
    """The newest public reports for the list's filters, as Atom."""
    choices = listing.Choices.load(db())
    filters = listing.parse_filters(request.args, choices)
    now = datetime.now(UTC)
    args = filters.query_args(page=None)
    base = services().settings.base_url.rstrip("/")
    body = feeds.atom(
        listing.latest_rows(db(), filters, now),
        filters,
        base_url=base,
        feed_url=base + url_for("residents.feed", **args),
        page_url=base + url_for("residents.around", **args),
        now=now,
        actions=_actions(filters, now, limit=FEED_ACTIONS),
    )
    response = Response(body, mimetype="application/atom+xml")
    response.cache_control.public = True
    response.cache_control.max_age = FEED_MAX_AGE
    return response
