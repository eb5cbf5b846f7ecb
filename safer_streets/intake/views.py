"""What residents see: the report form, the confirmation, support (+1) and the tracking page."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale, gettext, ngettext
from flask_wtf.csrf import generate_csrf
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from geo.gazetteer import Candidate
from geo.postcodes import neighbouring_councils
from geo.suntimes import LONDON
from safer_streets import taxonomy
from safer_streets.actions import partner_actions
from safer_streets.bounds import whole_number
from safer_streets.casework import workflow
from safer_streets.disclosure import policy, tables
from safer_streets.errors import Conflict, InvalidInput, NotFound
from safer_streets.intake import forms, photos, support, tracking
from safer_streets.intake.submission import (
    likely_point,
    normalise_reference,
    parse_submission,
    public_categories,
    receive_report,
    scoped_idempotency_key,
)
from safer_streets.models import Report, ReportStatus
from safer_streets.redis_client import make_redis
from safer_streets.residents import listing, questionnaire
from safer_streets.routing import locating
from safer_streets.web.clients import (
    address_supporter,
    browser_supporter,
    is_reporter,
    made_here,
    private_tracking_key,
    remember_made_here,
)
from safer_streets.web.context import current_user, db, external_url, services
from safer_streets.web.limits import (
    limit_lookups,
    limit_reports,
    limiter,
    submission_limit,
)

bp = Blueprint("intake", __name__)


def _photo_stash() -> photos.PhotoStash:
    app = current_app
    if "safer_streets_photo_stash" not in app.extensions:
        client = make_redis(services().settings.redis_url)
        app.extensions["safer_streets_photo_stash"] = photos.PhotoStash(client)
    return app.extensions["safer_streets_photo_stash"]


def _render_form(
    form: MultiDict[str, str],
    errors: dict[str, str],
    *,
    form_id: str,
    kept_photo: photos.SanitisedPhoto | None = None,
    photo_lost: bool = False,
    **context: Any,
) -> tuple[str, int]:
    categories = public_categories(db())
    promise_groups = tables.promise_groups(categories)
    return (
        render_template(
            "intake/report_form.html",
            form=form,
            reasons=form.getlist("reasons"),
            errors=errors,
            form_id=form_id,
            categories=categories,
            reasons_by_category={c.slug: taxonomy.reasons_for(db(), c.slug) for c in categories},
            promise_groups=promise_groups,
            promises_of={c.slug: group for group in promise_groups for c in group.categories},
            kept_photo=kept_photo,
            photo_lost=photo_lost,
            neighbours=neighbouring_councils(errors.get("location_text", "")),
            map_tiles_url=services().settings.map_tiles_url,
            **context,
        ),
        422 if errors else 200,
    )


def _take_photo(form_id: str) -> tuple[photos.SanitisedPhoto | None, dict[str, str], bool]:
    """The photo for this form: a new upload, or the one kept from the previous step.

    Returns the photo, any error, and whether a valid photo could not be kept for the next step.
    """
    stash = _photo_stash()
    upload = request.files.get("photo")
    if upload is not None and upload.filename:
        try:
            # The request itself is capped (MAX_CONTENT_LENGTH), so reading it whole is bounded.
            photo = photos.sanitise_photo(upload.read())
        except photos.PhotoRejected as rejected:
            stash.drop(form_id)
            return None, {"photo": rejected.reason[:1].upper() + rejected.reason[1:]}, False
        return photo, {}, not stash.put(form_id, photo)
    if request.form.get("photo_remove") == "yes":
        stash.drop(form_id)
        return None, {}, False
    return stash.get(form_id), {}, False


@bp.get("/")
def home():
    """The front page: what Safer Streets is and a way to report."""
    return render_template("intake/home.html")


@bp.get("/accessibility")
def accessibility():
    """The accessibility statement, in the form UK public-sector sites publish."""
    return render_template("intake/accessibility.html", settings=services().settings)


@bp.get("/contact")
def contact():
    """How to reach the partnership, and who to call instead when it cannot help."""
    return render_template("intake/contact.html", settings=services().settings)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says: send them to the SVG icon."""
    return redirect(url_for("static", filename="img/favicon.svg"), code=301)


# The blank form is the same page for every visitor who is not signed in, in each language,
# until the categories or their reasons change (which moves ``taxonomy.version``). Rendering
# it is most of the cost of reporting through the form, so it is rendered once per language and
# version, and each visitor's CSRF token and form id are written into the slots left for them.
_BLANK_FORMS = "safer_streets_blank_report_forms"


@dataclass
class _BlankForms:
    # By (taxonomy version, language, script root); a page is only ever served to a request
    # that read the version it is filed under.
    pages: dict[tuple[tuple[int, str], str, str], str] = field(default_factory=dict)
    csrf_slot: str = field(default_factory=lambda: f"csrf-{secrets.token_hex(16)}")
    form_id_slot: str = field(default_factory=lambda: f"form-{secrets.token_hex(16)}")


def _blank_form() -> str:
    blank: _BlankForms = current_app.extensions.setdefault(_BLANK_FORMS, _BlankForms())
    version = taxonomy.version(db())
    key = (version, str(get_locale()), request.script_root)
    page = blank.pages.get(key)
    if page is None:
        page, _status = _render_form(
            MultiDict(),
            {},
            form_id=blank.form_id_slot,
            csrf_token=lambda: blank.csrf_slot,
        )
        # Pages of another version are not asked for again.
        kept = {k: v for k, v in blank.pages.items() if k[0] == version}
        blank.pages = {**kept, key: page}
    return page.replace(blank.csrf_slot, generate_csrf()).replace(
        blank.form_id_slot, forms.form_id(None)
    )


@bp.get("/report")
def report_form():
    """The report form, optionally with a category or place already chosen."""
    if not request.args and current_user() is None:
        return _blank_form()
    form = MultiDict(
        {
            name: request.args.get(name, "")
            for name in ("category", "lat", "lon", "location_text")
            if request.args.get(name)
        }
    )
    return _render_form(form, {}, form_id=forms.form_id(None))


@bp.get("/report-worker.js")
def report_worker() -> Response:
    """The service worker that lets the report form open with no signal.

    Served from the site's root rather than /static/ so that its scope may cover /report; never
    cached, so a changed worker reaches phones on their next visit.
    """
    static_folder = current_app.static_folder
    assert static_folder is not None
    script = (Path(static_folder) / "js" / "report-worker.js").read_bytes()
    response = Response(script, mimetype="text/javascript")
    response.cache_control.no_cache = True
    return response


@bp.post("/report")
@limit_reports("form")
def submit_report():
    """Take a report; errors are shown next to their fields and nothing typed is lost."""
    form = request.form
    form_id = forms.form_id(form.get("submission_id"))
    now = datetime.now(UTC)
    data, errors = forms.to_submission(form, now, gettext)
    photo, photo_errors, photo_lost = _take_photo(form_id)
    errors.update(photo_errors)
    submission = None
    try:
        submission = parse_submission(data)
    except InvalidInput as invalid:
        errors = invalid.field_errors | errors
    if errors or submission is None:
        return _render_form(
            form,
            forms.friendly_errors(errors, form, gettext),
            form_id=form_id,
            kept_photo=photo,
            photo_lost=photo_lost,
        )
    session = db()
    places = services().places
    # A typed street is checked at the place it will be stored, as a pin is, with or
    # without JavaScript.
    point = likely_point(submission, places)
    if point is not None and form.get("nearby_checked") != "yes":
        similar = support.similar_open_reports(
            session, category_slug=submission.category, lon=point[0], lat=point[1]
        )
        if similar:
            today = datetime.now(UTC).astimezone(LONDON).date()
            return render_template(
                "intake/similar.html",
                similar=[(s, support.similar_words(s, today, gettext, ngettext)) for s in similar],
                reasons_list=taxonomy.reasons_for(session, submission.category),
                form=form,
                carried=[(n, form.get(n, "")) for n in forms.CARRIED_FIELDS if form.get(n)],
                reasons=form.getlist("reasons"),
                form_id=form_id,
                kept_photo=photo,
            )
    try:
        receipt, created = receive_report(
            session,
            submission,
            places=places,
            source="web",
            point_from=forms.point_from(form),
            # One id per rendered form: a double tap or a resubmitted page makes one report.
            idempotency_key=scoped_idempotency_key(form_id, channel="web", client=None),
        )
    except InvalidInput as invalid:
        return _render_form(
            form,
            forms.friendly_errors(invalid.field_errors, form, gettext),
            form_id=form_id,
            kept_photo=photo,
        )
    if created and photo is not None:
        photos.attach_photo(session, receipt.id, photo)
    session.commit()
    if photo is not None:
        # Only a photo this form uploaded or kept can be waiting: most reports have none.
        _photo_stash().drop(form_id)
    if created:
        services().task_queue.process_report(receipt.id)
    # Only this browser is offered the exact spot again, and its look-ups are not counted.
    remember_made_here(receipt.reference)
    return redirect(url_for("intake.submitted", reference=receipt.reference), code=303)


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(_error: RequestEntityTooLarge):
    """A photo far over the limit: the body cannot be read, so say how to get back."""
    return render_template("intake/too_large.html"), 413


def _render_support_details(
    reference: str, form: MultiDict[str, str], errors: dict[str, str], form_id: str
) -> tuple[str, int]:
    shown = support.supportable(db(), reference)
    return (
        render_template(
            "intake/support_details.html",
            shown=shown,
            reasons_list=taxonomy.reasons_for(db(), shown.report.category.slug),
            form=form,
            errors=errors,
            form_id=form_id,
        ),
        422 if errors else 200,
    )


@bp.post("/report/support")
def add_support():
    """Add the resident's voice (+1) to a similar open report instead of a new one: once per
    browser and address, however many forms it sends. With their reasons, when it happened to
    them and an email for updates when they give them; a post that has not shown those fields
    yet (the report form's panel) shows them first, with what the resident typed there."""
    form = request.form
    reference = form.get("reference", "")
    form_id = forms.form_id(form.get("submission_id"))
    if form.get("details") != "shown":
        return _render_support_details(reference, form, {}, form_id)
    session = db()
    report = support.supportable(session, reference).report
    data, errors = forms.to_support_details(form, datetime.now(UTC), gettext)
    details = support.NO_DETAILS
    try:
        details = support.parse_support_details(
            data, support.offered_keys(session, report.category.slug)
        )
    except InvalidInput as invalid:
        found = {
            ("contact_email" if k == "email" else k): v for k, v in invalid.field_errors.items()
        }
        errors = found | errors
    if errors:
        return _render_support_details(
            reference, form, forms.friendly_errors(errors, form, gettext), form_id
        )
    supporters = [browser_supporter(form_id), address_supporter(None)]
    result = support.add_support(
        session, reference, supporters=supporters, source="web", details=details
    )
    session.commit()
    _photo_stash().drop(form_id)
    return redirect(url_for("intake.supported", reference=result.report.reference), code=303)


@bp.get("/report/<reference>/supported")
@limit_lookups
def supported(reference: str):
    """Thanks for adding your voice, with the report to follow."""
    shown = tracking.look_up(db(), reference, reporter=is_reporter(reference))
    return render_template("intake/supported.html", report=shown.report, shown=shown)


def _report_another_link(report: Report) -> str:
    """ "Report another problem here": the exact spot only for the browser that reported it."""
    args: dict[str, Any] = {}
    if made_here(report.reference):
        location = policy.reporters_own_point(report)
        if location is not None:
            args = {"lat": f"{location[1]:.6f}", "lon": f"{location[0]:.6f}"}
        elif report.location_text:
            args = {"location_text": report.location_text}
    return url_for("intake.report_form", **args)


@bp.get("/report/<reference>/sent")
@limit_lookups
def submitted(reference: str):
    """The confirmation page: the reference, the reporter's private link to follow it, what
    happens next and, once routed, who has it."""
    reporter = is_reporter(reference)
    report = tracking.look_up(db(), reference, reporter=reporter).report
    key = private_tracking_key(report.reference) if reporter else None
    return render_template(
        "intake/submitted.html",
        report=report,
        # Whether they gave an email is the reporter's business: only the browser that made
        # the report is told what will be emailed.
        emails_expected=made_here(report.reference) and bool(report.contact_email),
        # The page deletes the draft this browser kept of the report it has just sent.
        sent_from_here=made_here(report.reference),
        tracking_key=key,
        # Shown in full to be kept (the configured address), followed as a path on this site.
        private_link=external_url("intake.track", reference=report.reference, key=key)
        if key
        else None,
        private_path=url_for("intake.track", reference=report.reference, key=key) if key else None,
        report_another=_report_another_link(report),
    )


@bp.get("/report/<reference>/photo")
@limit_lookups
def report_photo(reference: str) -> Response:
    """A report's photo, once a partner has approved it for the public."""
    photo = photos.public_photo(db(), reference)
    response = send_file(
        io.BytesIO(photo.data),
        mimetype=photo.content_type,
        etag=photo.sha256,
        max_age=None,
        conditional=True,
    )
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@bp.get("/track")
def track_lookup():
    """Find a report by the reference a resident was given."""
    reference = request.args.get("reference", "").strip()
    if reference:
        return redirect(url_for("intake.track", reference=normalise_reference(reference)))
    return render_template("intake/track_lookup.html")


def _reopen_within() -> timedelta:
    return timedelta(days=services().settings.reopen_within_days)


def _new_report_link(report: Report) -> str:
    """The report form for the same problem at the same place, for its reporter only."""
    args: dict[str, Any] = {"category": report.category.slug}
    location = policy.reporters_own_point(report)
    if location is not None:
        args |= {"lat": f"{location[1]:.6f}", "lon": f"{location[0]:.6f}"}
    elif report.location_text:
        args["location_text"] = report.location_text
    return url_for("intake.report_form", **args)


def _render_track(
    shown: policy.Disclosure,
    *,
    reporter: bool,
    form: MultiDict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> str:
    report, place = shown.report, shown.place
    now = datetime.now(UTC)
    key = request.args.get(tracking.KEY_PARAMETER) if reporter else None
    return render_template(
        "intake/track.html",
        report=report,
        shown=shown,
        place=place,
        # A marker where a point may be shown; at ward precision there is no point, so no map.
        map_place=place if place is not None and place.lon is not None else None,
        updates=[event for event in report.events if event.public],
        report_another=_report_another_link(report),
        photo_url=report_photo_url(report) if shown.shows_photo(report.photo) else None,
        map_tiles_url=services().settings.map_tiles_url,
        status_words=listing.status_words(
            report.status, report.owner.name if report.owner else None, gettext
        ),
        reporter=reporter,
        say_url=url_for("intake.track_say", reference=report.reference, key=key)
        if reporter
        else None,
        replyable={e.id for e in workflow.replyable_updates(report)} if reporter else set(),
        may_reopen=workflow.may_reopen(report, now, _reopen_within()),
        reopen_days=services().settings.reopen_within_days,
        asked=reporter and questionnaire.asked(report),
        answer_url=url_for("intake.track_answer", reference=report.reference, key=key)
        if reporter
        else None,
        new_report_link=_new_report_link(report) if reporter else None,
        # Only here, on a page the policy already lets this reader see.
        partnership_actions=partner_actions.actions_for_report(
            db(), report, min_count=services().settings.board_min_count
        ),
        form=form or MultiDict(),
        errors=errors or {},
        **_placing(report, reporter, key, form),
    )


def _placing(
    report: Report, reporter: bool, key: str | None, form: MultiDict[str, str] | None
) -> dict[str, Any]:
    """What the reporter needs to place a report whose typed place could not be found: the
    places matching what they search for (without JavaScript) and where to send the place.
    Never by reference alone."""
    if not (reporter and report.status is ReportStatus.NEEDS_LOCATION):
        return {"place_url": None}
    query = (form.get("q") if form else None) or request.args.get("q")
    searched = query is not None
    query = query if searched else report.location_text or ""
    return {
        "place_url": url_for("intake.track_place", reference=report.reference, key=key),
        "place_query": query,
        "place_candidates": locating.candidates(services().places, query) if searched else [],
        "place_searched": searched,
    }


@bp.get("/track/<reference>")
@limit_lookups
def track(reference: str):
    """A report as the public (or, with its private link, its reporter) may see it: status,
    public updates, and its place, time and words at the precision the policy allows. Its
    reporter can also tell the partners more, answer an update, or say whether it is fixed."""
    if (canonical := normalise_reference(reference)) != reference:
        return redirect(url_for("intake.track", reference=canonical, **request.args), code=301)
    reporter = is_reporter(reference)
    try:
        shown = tracking.look_up(db(), reference, reporter=reporter)
    except NotFound:
        return render_template("intake/track_lookup.html", not_found=reference), 404
    return _render_track(shown, reporter=reporter)


def _refused_on_track(session: Session, reference: str, invalid: InvalidInput):
    """The reporter's tracking page again, with what was wrong beside each field and their
    words kept; nothing of the refused post is stored."""
    session.rollback()
    shown = tracking.look_up(session, reference, reporter=True)
    return _render_track(shown, reporter=True, form=request.form, errors=invalid.field_errors), 422


@bp.post("/track/<reference>/say")
@limiter.limit(submission_limit)
@limit_lookups
def track_say(reference: str):
    """The reporter adds information, answers a public update, or says "still a problem" (a
    recent fix is reopened) or "fixed". Only with the private link: by reference alone it is
    not found, exactly as an unknown reference."""
    if not is_reporter(reference):
        raise NotFound(f"no report with reference {reference!r}")
    session = db()
    shown = tracking.look_up(session, reference, reporter=True)
    report = shown.report
    try:
        outcome = workflow.resident_says(
            session,
            report,
            request.form.get("says", ""),
            request.form.get("text"),
            in_reply_to=request.form.get("in_reply_to"),
            now=datetime.now(UTC),
            reopen_within=_reopen_within(),
            data={"channel": "tracking link"},
        )
    except InvalidInput as invalid:
        return _refused_on_track(session, reference, invalid)
    session.commit()
    if outcome.reopened:
        flash(gettext("Thank you. Your report is open again and the team has been told."))
    elif outcome.too_late:
        flash(
            gettext(
                "Thank you: the team has been told. It was dealt with more than %(days)s days "
                "ago, so please make a new report so that it is looked at again.",
                days=services().settings.reopen_within_days,
            ),
            "too-late",
        )
    else:
        flash(gettext("Thank you. The team dealing with your report can now read this."))
    key = request.args.get(tracking.KEY_PARAMETER)
    return redirect(url_for("intake.track", reference=report.reference, key=key), code=303)


@bp.post("/track/<reference>/answer")
@limiter.limit(submission_limit)
@limit_lookups
def track_answer(reference: str):
    """The reporter's answer to "is it fixed?", once; "not fixed" reopens a recent fix."""
    if not is_reporter(reference):
        raise NotFound(f"no report with reference {reference!r}")
    session = db()
    report = tracking.look_up(session, reference, reporter=True).report
    try:
        answered = questionnaire.answer(
            session,
            report,
            request.form.get("fixed", ""),
            request.form.get("words"),
            now=datetime.now(UTC),
            reopen_within=_reopen_within(),
        )
    except InvalidInput as invalid:
        return _refused_on_track(session, reference, invalid)
    session.commit()
    if answered.reopened:
        flash(gettext("Thank you. Your report is open again and the team has been told."))
    else:
        flash(gettext("Thank you for your answer."))
    key = request.args.get(tracking.KEY_PARAMETER)
    return redirect(url_for("intake.track", reference=report.reference, key=key), code=303)


def _reporters_point() -> locating.MapPoint:
    try:
        return locating.parse_point(request.form.get("lat", ""), request.form.get("lon", ""))
    except InvalidInput:
        message = gettext(
            "Put a pin on the map where the problem is, or search for a postcode or street "
            "and choose a place"
        )
        raise InvalidInput({"place": message}) from None


@bp.post("/track/<reference>/place")
@limiter.limit(submission_limit)
@limit_lookups
def track_place(reference: str):
    """The reporter puts their report on the map when the place they typed could not be
    found: a point on the map, or one of the places matching what they typed. Only with the
    private link; the worker then routes it as any new report."""
    if not is_reporter(reference):
        raise NotFound(f"no report with reference {reference!r}")
    session = db()
    report = tracking.look_up(session, reference, reporter=True).report
    places = services().places
    query = request.form.get("q", "")
    try:
        choice = whole_number(request.form.get("choice"))
        if choice is not None:
            found = locating.candidates(places, query)
            if choice >= len(found):
                raise InvalidInput(
                    {"choice": gettext("That place is no longer offered: search again")}
                )
            place: locating.MapPoint | Candidate = found[choice]
        else:
            place = _reporters_point()
        locating.place_by_reporter(session, report, place, places=places)
    except InvalidInput as invalid:
        return _refused_on_track(session, reference, invalid)
    except Conflict:
        session.rollback()
        flash(gettext("Your report already has a place."))
    else:
        session.commit()
        services().task_queue.process_report(report.id)
        flash(gettext("Thank you. Your report is on the map and is being sent to the right team."))
    key = request.args.get(tracking.KEY_PARAMETER)
    return redirect(url_for("intake.track", reference=report.reference, key=key), code=303)


@bp.app_template_global()
def report_photo_url(report: Report) -> str | None:
    """The URL of a report's photo, or None when it has none; whether its reader may see it
    is the caller's question (``Disclosure.shows_photo``).

    For templates, e.g. the partner's report page: ``{{ report_photo_url(report) }}``.
    """
    photo = getattr(report, "photo", None)
    if photo is None:
        return None
    return url_for("intake.report_photo", reference=report.reference, v=photo.sha256[:12])
