"""Partner triage: sign in, work the queue, act on reports. Views parse, call the domain,
render; permission and state checks live in ``queues`` and ``casework``."""

from __future__ import annotations

import io
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask import session as cookie_session

from safer_streets.accounts import users
from safer_streets.accounts.redirects import landing_endpoint, safe_next
from safer_streets.bounds import whole_number
from safer_streets.casework import access, casefile, counts, queues, saved_views, sla, workflow
from safer_streets.casework.export import export_csv
from safer_streets.errors import Conflict, InvalidInput, NotFound
from safer_streets.models import Priority, ReportStatus, User
from safer_streets.web.clients import client_address
from safer_streets.web.context import (
    current_user,
    db,
    login_required,
    must_use_two_step,
    services,
    show_refused,
    sign_in,
    streaming,
)
from safer_streets.web.limits import sign_in_limits

bp = Blueprint("casework", __name__)

SECOND_FACTOR_MINUTES = 5
# Long enough to install an authenticator app on a work phone.
ENROL_MINUTES = 15


def _now() -> datetime:
    return datetime.now(UTC)


def _safe_next(target: str | None, user: User | None = None) -> str:
    """Only ever redirect within this site after login; anything else goes to the user's
    landing page (the board for board members), else the queue."""
    landing = landing_endpoint(user.role.value) if user is not None else "casework.queue"
    return safe_next(target) or url_for(landing)


def _user() -> User:
    user = current_user()
    assert user is not None  # login_required ran first
    return user


# ---- Signing in --------------------------------------------------------------------------


def _await_second_step(user: User, target: str, endpoint: str) -> Response:
    """Remember, for a few minutes, that this browser gave the account's password; the
    session is not signed in until the second step (``endpoint``) is done."""
    session = db()
    session.commit()
    cookie_session.clear()
    cookie_session.update(
        pending_user_id=user.id,
        pending_since=_now().timestamp(),
        pending_generation=users.session_generation(session, user),
        pending_step=endpoint,
        next=target,
    )
    return redirect(url_for(endpoint), code=303)


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limits
def login():
    """Sign in with email and password, then a code for accounts with a second factor; an
    account that must use one and has none sets it up first (``accounts.two_factor``)."""
    error = None
    email = request.form.get("email", "")
    if request.method == "POST":
        session = db()
        user = users.authenticate(
            session, email, request.form.get("password", ""), passwords=services().passwords
        )
        if user is not None:
            target = _safe_next(request.args.get("next"), user)
            if users.has_second_factor(session, user):
                return _await_second_step(user, target, "casework.login_code")
            if must_use_two_step(user):
                return _await_second_step(user, target, "casework.login_enrol")
            users.record_sign_in(session, user, _now())
            session.commit()
            sign_in(user, two_step=False)
            return redirect(target, code=303)
        error = "That email and password do not match an active account."
    status = 401 if error else 200
    return render_template("casework/login.html", error=error, email=email), status


def _pending_user(endpoint: str, minutes: int) -> User | None:
    """The account whose password this browser gave within ``minutes``, on its way to
    ``endpoint``; ``None`` when there is none, it expired, or the password changed since."""
    pending = cookie_session.get("pending_user_id")
    since = cookie_session.get("pending_since", 0)
    if (
        not pending
        or cookie_session.get("pending_step") != endpoint
        or _now().timestamp() - since > minutes * 60
    ):
        return None
    session = db()
    user = session.get(User, pending)
    if (
        user is None
        or not user.active
        # A password change or reset since the first step voids it.
        or users.session_generation(session, user) != cookie_session.get("pending_generation")
    ):
        return None
    return user


def _sign_in_again() -> Response:
    cookie_session.clear()
    flash("Please sign in again.")
    return redirect(url_for("casework.login"), code=303)


def _finish_sign_in(user: User) -> Response:
    target = safe_next(cookie_session.get("next")) or url_for(landing_endpoint(user.role.value))
    users.record_sign_in(db(), user, _now())
    db().commit()
    sign_in(user, two_step=True)
    return redirect(target, code=303)


@bp.route("/login/code", methods=["GET", "POST"])
@sign_in_limits
def login_code():
    """The second step for accounts with an authenticator app."""
    user = _pending_user("casework.login_code", SECOND_FACTOR_MINUTES)
    if user is None:
        return _sign_in_again()
    error = None
    if request.method == "POST":
        session = db()
        if users.verify_second_factor(session, user, request.form.get("code", ""), _now()):
            return _finish_sign_in(user)
        session.commit()  # a replayed code must stay spent
        error = "That code is not right. Use the current code from your authenticator app."
    status = 401 if error else 200
    return render_template("casework/login_code.html", error=error), status


@bp.route("/login/enrol", methods=["GET", "POST"])
@sign_in_limits
def login_enrol():
    """Setting up the authenticator app at sign-in, for an account that must use one: no
    page of the site opens to it before a code from the app is accepted."""
    user = _pending_user("casework.login_enrol", ENROL_MINUTES)
    session = db()
    # Set up meanwhile (in another tab or browser): signing in again asks for its code.
    if user is None or users.has_second_factor(session, user):
        return _sign_in_again()
    error = None
    if request.method == "POST":
        try:
            users.confirm_totp(session, user, request.form.get("code", ""), _now())
        except InvalidInput as invalid:
            error = invalid.field_errors.get("code", "that code is not right")
        else:
            flash("Two-step sign-in is on: you will be asked for a code each time you sign in.")
            return _finish_sign_in(user)
    enrolment = users.enrolment_at_sign_in(session, user)
    session.commit()
    page = render_template("casework/login_enrol.html", enrolment=enrolment, error=error)
    # The page shows the secret: no cache, shared or the browser's, may keep a copy.
    return page, 401 if error else 200, {"Cache-Control": "no-store"}


@bp.post("/logout")
def logout():
    """Sign out: this account's sessions end everywhere, including copies of this cookie."""
    try:
        user = current_user()
        if user is not None:
            session = db()
            users.end_all_sessions(session, user, _now())
            session.commit()
    finally:
        # Even when the database cannot be reached (a 503), this browser forgets the session.
        cookie_session.clear()
    return redirect(url_for("casework.login"), code=303)


# ---- The queue ---------------------------------------------------------------------------


def _queue_context(user: User) -> dict[str, Any]:
    return {
        "choices": queues.filter_choices(db(), user),
        "summary": queues.summary,
        "count_limit": counts.COUNT_LIMIT,
        "statuses": list(ReportStatus),
        "priorities": list(Priority),
        "sorts": list(queues.Sort),
        "ages": list(queues.Age),
        "bulk_statuses": [
            ReportStatus.IN_PROGRESS,
            ReportStatus.RESOLVED,
            ReportStatus.NOT_ACTIONABLE,
        ],
        "can_act": user.role.value in ("staff", "partner-admin", "admin"),
        "saved_views": saved_views.views_for(db(), user),
    }


@bp.get("/triage")
@login_required
def queue():
    """The signed-in user's queue: filters, counts per status, a map, bulk actions."""
    user = _user()
    try:
        filters = queues.parse_filters(request.args)
        result = queues.queue(db(), user, filters)
    except InvalidInput as invalid:
        return (
            render_template(
                "casework/queue.html",
                result=None,
                filters=queues.QueueFilters(),
                errors=invalid.field_errors,
                args=request.args,
                **_queue_context(user),
            ),
            422,
        )
    return render_template(
        "casework/queue.html",
        result=result,
        filters=result.filters,
        errors={},
        args=request.args,
        tiles=services().settings.map_tiles_url,
        **_queue_context(user),
    )


@bp.get("/triage/map.json")
@login_required
def queue_map():
    """The queue's map markers, under the same filters as the page: the map's script asks for
    them once the page is shown, so the list never waits for five hundred markers."""
    user = _user()
    # Set by the page when it counted more than it counts exactly; it only chooses the plan.
    many = request.args.get("many") == "yes"
    try:
        points = queues.map_points(db(), user, queues.parse_filters(request.args), many=many)
    except InvalidInput as invalid:
        return jsonify(error="Check the filters", fields=invalid.field_errors), 422
    return jsonify(points=[asdict(point) for point in points], limit=queues.MAP_LIMIT)


@bp.post("/triage/views")
@login_required
def save_view():
    """Save the queue's current filters under a name."""
    session = db()
    filters = {k: v for k, v in request.form.items() if k not in ("csrf_token", "view_name")}
    try:
        view = saved_views.save_view(session, _user(), request.form.get("view_name", ""), filters)
    except InvalidInput as invalid:
        flash("View not saved: " + "; ".join(invalid.field_errors.values()), "error")
        return redirect(url_for("casework.queue", **filters), code=303)
    session.commit()
    flash(f"Saved the view “{view.name}”.")
    return redirect(f"{url_for('casework.queue')}?{view.query}", code=303)


@bp.post("/triage/views/<int:view_id>/delete")
@login_required
def delete_view(view_id: int):
    """Forget one of the user's saved views."""
    session = db()
    saved_views.delete_view(session, _user(), view_id)
    session.commit()
    flash("Saved view deleted.")
    return redirect(url_for("casework.queue"), code=303)


@bp.get("/triage/export.csv")
@login_required
def export():
    """The filtered queue as a CSV file, streamed row batch by row batch."""
    user = _user()
    try:
        filters = queues.parse_filters(request.args)
        chunks = export_csv(db(), user, filters, address=client_address())
        db().commit()  # the access log holds the sensitive rows before any is sent
    except InvalidInput as invalid:
        detail = "; ".join(f"{k}: {v}" for k, v in invalid.field_errors.items())
        return render_template(
            "casework/error.html", status=422, title="Check the filters", detail=detail
        ), 422
    owner = user.partner.slug if user.partner else "all-partners"
    filename = f"safer-streets-{owner}-{_now():%Y-%m-%d}.csv"
    return Response(
        streaming(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.post("/triage/bulk")
@login_required
def bulk():
    """One action on every ticked report; each is checked on its own."""
    user = _user()
    session = db()
    back = _safe_next(request.form.get("back"))
    try:
        outcome = workflow.bulk(
            session,
            user,
            workflow.parse_selection(request.form.getlist("selected")),
            request.form.get("action", ""),
            request.form.get("value") or None,
            now=_now(),
        )
    except InvalidInput as invalid:
        flash("Nothing changed: " + "; ".join(invalid.field_errors.values()), "error")
        return redirect(back, code=303)
    session.commit()
    services().task_queue.send_emails(outcome.emails)
    if outcome.done:
        flash(f"Done for {len(outcome.done)} report(s): {', '.join(outcome.done)}.")
    for reference, reason in outcome.refused.items():
        flash(f"{reference} was not changed: {reason}", "error")
    return redirect(back, code=303)


@bp.get("/triage/sla")
@login_required
def sla_breaches():
    """Service-level breaches per partner, for the board and administrators."""
    rows = sla.breaches_by_partner(db(), _user(), _now())
    return render_template("casework/sla.html", rows=rows)


# ---- One report --------------------------------------------------------------------------


def _render_report(
    reference: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    conflict: str | None = None,
    action: str | None = None,
    status: int = 200,
):
    session = db()
    user = _user()
    case = casefile.open_case(session, user, reference, address=client_address())
    session.commit()  # the access log holds the view even if rendering fails
    report = case.shown.report
    actions = workflow.allowed_actions(session, user, report)
    seen = whole_number((form or {}).get("seen")) or 0
    context = {
        "case": case,
        "shown": case.shown,
        "report": report,
        "neighbour_points": [p for n in case.neighbours if (p := n.map_point())],
        "actions": actions,
        "Action": workflow.Action,
        "colleagues": workflow.colleagues(session, report)
        if workflow.Action.ASSIGN in actions
        else [],
        "partners": workflow.reroute_targets(session, report)
        if workflow.Action.REROUTE in actions
        else [],
        "templates": [
            (t, workflow.fill_template(t.body, report, user))
            for t in workflow.templates_for(session, user, report)
        ],
        "next_statuses": [s for s in ReportStatus if s in workflow.WORKFLOW.get(report.status, ())],
        # On a conflict, what others did since the officer opened the page.
        "changed_since": [e for e in case.history if e.id > seen] if conflict else [],
        "last_event_id": max((e.id for e in case.history), default=0),
        "priorities": list(Priority),
        "breaches": sla.breaches_of(report, _now()),
        "errors": errors or {},
        "form": form or {},
        "conflict": conflict,
        "failed_action": action,
        "tiles": services().settings.map_tiles_url,
        "label": workflow.label,
        "event_label": casefile.event_label,
    }
    return render_template("casework/report.html", **context), status


@bp.get("/triage/reports/<reference>")
@login_required
def report_detail(reference: str):
    """One report: map, description, why it came here, history, nearby reports, actions."""
    return _render_report(reference)


@bp.get("/triage/reports/<reference>/photo")
@login_required
def report_photo(reference: str) -> Response:
    """The report's photo for those whose queue holds it; never kept in a shared cache."""
    session = db()
    photo = casefile.case_photo(session, _user(), reference, address=client_address())
    session.commit()
    response = send_file(
        io.BytesIO(photo.data),
        mimetype=photo.content_type,
        etag=photo.sha256,
        max_age=None,
        conditional=True,
    )
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


def _version(form: Any) -> int | None:
    return whole_number(form.get("version"))


def _inspection(form: Any) -> workflow.Inspection:
    """The inspector form as asked; fields a notified partner's form lacks stay ``None``."""
    return workflow.Inspection(
        assignee=form.get("assignee"),
        priority=form.get("priority"),
        status=form.get("status"),
        public_update=form.get("public_update", ""),
        template_id=form.get("template") or None,
        internal_note=form.get("internal_note", ""),
    )


def _perform(action: str, report: Any, user: User, form: Any) -> workflow.Outcome:
    session = db()
    version = _version(form)
    now = _now()
    a = workflow.Action
    if action == "inspect":
        return workflow.inspect(
            session, user, report, _inspection(form), expected_version=version, now=now
        )
    if action == a.REROUTE:
        return workflow.reroute(
            session,
            user,
            report,
            form.get("partner", ""),
            form.get("reason"),
            keep_informed=form.get("keep_informed") == "yes",
            expected_version=version,
            now=now,
        )
    if action == a.DUPLICATE:
        return workflow.mark_duplicate(
            session, user, report, form.get("original", ""), expected_version=version, now=now
        )
    if action == a.MODERATE:
        return workflow.moderate(
            session,
            user,
            report,
            form.get("moderation", ""),
            text=form.get("public_text", ""),
            reason=form.get("reason", ""),
        )
    if action == a.PHOTO:
        return workflow.approve_photo(session, user, report, approved=form.get("photo") == "show")
    raise NotFound(f"no action {action!r}")


@bp.post("/triage/reports/<reference>/<action>")
@login_required
def act(reference: str, action: str):
    """Do one thing to a report, then show it again (or say why not)."""
    session = db()
    user = _user()
    report = access.report_for(session, user, reference)
    form = request.form
    try:
        outcome = _perform(action, report, user, form)
        session.commit()
    except InvalidInput as invalid:
        return show_refused(
            _render_report, invalid.field_errors, reference=reference, form=form, action=action
        )
    except Conflict as conflict:
        session.rollback()
        return _render_report(
            reference, conflict=conflict.message, form=form, action=action, status=409
        )
    services().task_queue.send_emails(outcome.emails)
    flash(outcome.message)
    try:
        access.report_for(session, user, reference)
    except NotFound:
        # Re-routed away without staying informed: the report has left this queue.
        return redirect(url_for("casework.queue"), code=303)
    return redirect(url_for("casework.report_detail", reference=report.reference), code=303)
