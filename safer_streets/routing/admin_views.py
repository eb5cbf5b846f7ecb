"""Admin pages: the home with counts and links, the routing table (list, add, edit,
deactivate, history, re-route, try where a report would go), the abuse list with the reports
it holds, and the reports routing set aside (needs attention)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from safer_streets import taxonomy
from safer_streets.casework import access
from safer_streets.disclosure import access_log
from safer_streets.errors import Conflict, InvalidInput
from safer_streets.intake import abuse, submission
from safer_streets.models import AbuseEntry, Category, Role
from safer_streets.routing import overview, quarantine, rerouting, tester
from safer_streets.routing import rules as routing_rules
from safer_streets.routing.locate_views import ward_index
from safer_streets.web.clients import client_address
from safer_streets.web.context import current_user, db, services, show_refused

bp = Blueprint("admin", __name__, url_prefix="/admin")
ABUSE_PAGE = "abuse list"
bp.add_app_template_global(routing_rules.describe_change, "describe_rule_change")
bp.add_app_template_global(routing_rules.reason_words, "rule_reason_words")
bp.add_app_template_global(routing_rules.partner_words, "rule_partner_words")
bp.add_app_template_global(routing_rules.WARD_TEAM_CHOICE, "WARD_TEAM_CHOICE")


@bp.before_request
def admins_only():
    """Everyone signs in; only admins get further (403 for anyone else)."""
    if current_user() is None:
        return redirect(url_for("casework.login", next=request.full_path.rstrip("?")))
    routing_rules.require_admin(current_user())
    return None


@bp.get("")
def home():
    """Counts that say where to look, and every admin page."""
    return render_template("admin/home.html", overview=overview.overview(db()))


@bp.get("/routing/try")
def try_routing():
    """Where would a report go? A point or place, category, time and reasons in; the owner,
    the notified partners, the reason and the matching rules out. Nothing is created."""
    session = db()
    context = {
        "categories": session.scalars(select(Category).order_by(Category.position)).all(),
        "reasons": [r for r in taxonomy.all_reasons(session) if not r.retired],
        "args": request.args,
        "answer": None,
        "errors": {},
    }
    if "category" not in request.args:
        return render_template("admin/try_routing.html", **context)
    try:
        question = tester.parse_question(
            session,
            category=request.args.get("category", ""),
            lat=request.args.get("lat"),
            lon=request.args.get("lon"),
            place=request.args.get("place", ""),
            at=request.args.get("at"),
            reasons=request.args.getlist("reason"),
        )
        context["answer"] = tester.try_routing(
            session, question, wards=ward_index(), places=services().places
        )
    except InvalidInput as invalid:
        context["errors"] = invalid.field_errors
        return render_template("admin/try_routing.html", **context), 422
    return render_template("admin/try_routing.html", **context)


def _render_rule_form(template: str, status: int = 200, **context):
    return (
        render_template(template, choices=routing_rules.rule_choices(db()), **context),
        status,
    )


@bp.get("/routing")
def rules():
    """The routing table, filtered."""
    filters = routing_rules.RuleFilter.from_args(request.args.to_dict())
    found = routing_rules.list_rules(db(), current_user(), filters)
    return render_template(
        "admin/rules.html",
        rules=found,
        filters=filters,
        choices=routing_rules.rule_choices(db()),
    )


@bp.route("/routing/new", methods=["GET", "POST"])
def new_rule():
    """Add a rule; the why goes into its history."""
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            rule = routing_rules.create_rule(db(), current_user(), form)
        except InvalidInput as invalid:
            return show_refused(
                _render_rule_form, invalid.field_errors, template="admin/new_rule.html", form=form
            )
        db().commit()
        flash(f"Rule {rule.id} added. Open reports keep their routing until you re-route.")
        return redirect(url_for("admin.rule", rule_id=rule.id), code=303)
    return _render_rule_form("admin/new_rule.html", form={"place": "borough"}, errors={})


def _rule_page(
    rule_id: int,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    state_errors: dict[str, str] | None = None,
    state_why: str = "",
    status: int = 200,
):
    """One rule: its form (as stored, unless a refused one is given), state and history."""
    found = routing_rules.get_rule(db(), current_user(), rule_id)
    return _render_rule_form(
        "admin/rule.html",
        status,
        rule=found,
        form=routing_rules.form_from_rule(found) if form is None else form,
        errors=errors or {},
        state_errors=state_errors or {},
        state_why=state_why,
        fallback=routing_rules.is_fallback(found),
        changes=routing_rules.history(db(), current_user(), rule_id=rule_id),
    )


@bp.route("/routing/<int:rule_id>", methods=["GET", "POST"])
def rule(rule_id: int):
    """One rule: edit it, (de)activate it, and read its history."""
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            routing_rules.edit_rule(db(), current_user(), rule_id, form)
        except InvalidInput as invalid:
            return show_refused(_rule_page, invalid.field_errors, rule_id=rule_id, form=form)
        db().commit()
        flash(f"Rule {rule_id} saved. Open reports keep their routing until you re-route.")
        return redirect(url_for("admin.rule", rule_id=rule_id), code=303)
    return _rule_page(rule_id)


@bp.post("/routing/<int:rule_id>/active")
def set_active(rule_id: int):
    """Deactivate or reactivate a rule, with a why."""
    active = request.form.get("active") == "true"
    why = request.form.get("why", "")
    try:
        routing_rules.set_active(db(), current_user(), rule_id, active=active, why=why)
    except InvalidInput as invalid:
        db().rollback()
        return _rule_page(rule_id, state_errors=invalid.field_errors, state_why=why, status=422)
    db().commit()
    flash(f"Rule {rule_id} {'reactivated' if active else 'deactivated'}.")
    return redirect(url_for("admin.rule", rule_id=rule_id), code=303)


@bp.get("/routing/history")
def history():
    """Every change to the routing table, newest first."""
    changes = routing_rules.history(db(), current_user())
    return render_template("admin/history.html", changes=changes)


@bp.route("/routing/reroute", methods=["GET", "POST"])
def reroute():
    """Preview what the current rules would change for open reports, then apply it."""
    if request.method == "POST":
        summary = rerouting.reroute_open_reports(
            db(), current_user(), why=request.form.get("why", "")
        )
        db().commit()
        return render_template("admin/reroute.html", summary=summary)
    summary = rerouting.reroute_open_reports(db(), current_user(), dry_run=True)
    db().rollback()
    return render_template("admin/reroute.html", summary=summary)


def _abuse_page(errors: dict[str, str] | None = None, form=None, status: int = 200):
    entries = db().scalars(select(AbuseEntry).order_by(AbuseEntry.created_at.desc())).all()
    user = current_user()
    held = access.disclosures_among_visible(user, abuse.held_reports(db()))
    access_log.record_views(db(), held, viewer=user, surface=ABUSE_PAGE, address=client_address())
    db().commit()
    return render_template(
        "admin/abuse.html",
        entries=entries,
        held=held,
        errors=errors or {},
        form=form or {},
    ), status


@bp.route("/abuse", methods=["GET", "POST"])
def abuse_list():
    """The abuse list and the reports it holds for review."""
    if request.method == "POST":
        form = request.form
        try:
            entry = abuse.add_entry(
                db(), form.get("value", ""), form.get("reason", ""), current_user()
            )
        except InvalidInput as invalid:
            return show_refused(_abuse_page, invalid.field_errors, form=form)
        db().commit()
        flash(f"Reports from {entry.value} will now be held for review.")
        return redirect(url_for("admin.abuse_list"), code=303)
    return _abuse_page()


@bp.post("/abuse/<int:entry_id>/remove")
def abuse_remove(entry_id: int):
    """Take an address off the list."""
    abuse.remove_entry(db(), entry_id)
    db().commit()
    flash("Removed from the abuse list.")
    return redirect(url_for("admin.abuse_list"), code=303)


@bp.post("/held/<reference>")
def review_held(reference: str):
    """Release a held report for routing, or refuse it."""
    report = submission.get_report(db(), reference)
    release = request.form.get("decision") == "release"
    try:
        abuse.review(
            db(), report, current_user(), release=release, note=request.form.get("note", "")
        )
    except InvalidInput:
        flash(f"{reference}: give a reason for the decision.")
        return redirect(url_for("admin.abuse_list"), code=303)
    db().commit()
    if release:
        services().task_queue.process_report(report.id)
    flash(f"{reference} {'released for routing' if release else 'refused'}.")
    return redirect(url_for("admin.abuse_list"), code=303)


@bp.get("/needs-attention")
def needs_attention():
    """Reports whose routing failed again and again, with the last error, to retry after a fix."""
    return render_template(
        "admin/needs_attention.html",
        set_aside=quarantine.needs_attention(db()),
        max_attempts=services().settings.processing_max_attempts,
    )


@bp.post("/needs-attention/<reference>/retry")
def retry(reference: str):
    """Put a report set aside back to ``received`` and hand it to the worker."""
    report = submission.get_report(db(), reference)
    try:
        quarantine.retry(db(), report, current_user())
    except Conflict as conflict:
        # Someone else retried it first (or it was routed meanwhile): say so, change nothing.
        db().rollback()
        flash(str(conflict))
        return redirect(url_for("admin.needs_attention"), code=303)
    db().commit()
    # The sweep would find it too; enqueueing now routes it within a second when the fix works.
    services().task_queue.process_report(report.id)
    flash(f"{reference} put back for routing.")
    return redirect(url_for("admin.needs_attention"), code=303)


@bp.app_context_processor
def needs_attention_count() -> dict[str, int]:
    """How many reports wait for an admin to retry them, for admins' navigation."""
    user = current_user()
    if user is None or user.role is not Role.ADMIN:
        return {"reports_needing_attention": 0}
    return {"reports_needing_attention": quarantine.count_needs_attention(db())}
