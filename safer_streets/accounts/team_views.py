"""A partner admin's pages: the team's accounts, response templates and service levels."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from safer_streets.accounts.users import (
    GRANTABLE_ROLES,
    deactivate_user,
    invite_user,
    managed_users,
    send_reset_link,
    set_case_detail,
)
from safer_streets.casework import queues, sla, workflow
from safer_streets.errors import InvalidInput
from safer_streets.models import NewReportEmails, Partner
from safer_streets.notifications import outbox
from safer_streets.web.context import (
    current_user,
    db,
    login_required,
    services,
    show_refused,
)

bp = Blueprint("team", __name__, url_prefix="/triage/team")


def _now() -> datetime:
    return datetime.now(UTC)


def _partners() -> list[Partner]:
    return list(db().scalars(select(Partner).order_by(Partner.name)))


@bp.get("")
@login_required
def users(errors: dict[str, str] | None = None, form: dict[str, str] | None = None, status=200):
    """The team's accounts, with a form to add one."""
    user = current_user()
    return render_template(
        "accounts/team/users.html",
        users=managed_users(db(), user),
        roles=GRANTABLE_ROLES,
        partners=_partners() if user.role.value == "admin" else [],
        errors=errors or {},
        form=form or {},
    ), status


@bp.post("/users")
@login_required
def invite():
    """Create an account; its owner chooses a password from an emailed link."""
    session = db()
    form = request.form
    try:
        user = invite_user(
            session,
            current_user(),
            passwords=services().passwords,
            email=form.get("email", ""),
            name=form.get("name", ""),
            role=form.get("role", ""),
            partner_slug=form.get("partner") or None,
            now=_now(),
        )
    except InvalidInput as invalid:
        return show_refused(users, invalid.field_errors, form=form.to_dict())
    session.commit()
    services().task_queue.send_emails(outbox.unsent_ids(session, user_id=user.id))
    flash(f"Account created for {user.email}: they have been emailed a link to set a password.")
    return redirect(url_for("team.users"), code=303)


@bp.post("/users/<int:user_id>/deactivate")
@login_required
def deactivate(user_id: int):
    """Stop an account signing in."""
    session = db()
    user = deactivate_user(session, current_user(), user_id, _now())
    session.commit()
    flash(f"{user.email} can no longer sign in.")
    return redirect(url_for("team.users"), code=303)


@bp.post("/users/<int:user_id>/case-detail")
@login_required
def case_detail(user_id: int):
    """Allow a board account case detail of sensitive reports, or withdraw it."""
    session = db()
    allowed = request.form.get("allowed") == "yes"
    user = set_case_detail(session, current_user(), user_id, allowed=allowed)
    session.commit()
    if allowed:
        flash(f"{user.email} can now open sensitive reports; each view is logged.")
    else:
        flash(f"{user.email} now sees sensitive reports in counts only.")
    return redirect(url_for("team.users"), code=303)


@bp.post("/users/<int:user_id>/reset")
@login_required
def reset(user_id: int):
    """Email a team member a link to choose a new password."""
    session = db()
    user = send_reset_link(session, current_user(), user_id, _now())
    session.commit()
    services().task_queue.send_emails(outbox.unsent_ids(session, user_id=user.id))
    flash(f"A password reset link was emailed to {user.email}.")
    return redirect(url_for("team.users"), code=303)


@bp.get("/templates")
@login_required
def templates(errors: dict[str, str] | None = None, form=None, status=200):
    """The partner's response templates (partner admins edit them)."""
    user = current_user()
    if user.partner is None:
        return redirect(url_for("casework.queue"))
    return render_template(
        "accounts/team/templates.html",
        templates=workflow.templates_for(db(), user),
        categories=queues.filter_choices(db(), user)["category"],
        statuses=workflow.TEMPLATE_STATUSES,
        errors=errors or {},
        form=form or {},
        editable=user.role.value == "partner-admin",
    ), status


@bp.post("/templates")
@login_required
def save_template():
    """Add or edit a response template."""
    session = db()
    form = request.form
    try:
        template = workflow.save_template(
            session,
            current_user(),
            form.get("id") or None,
            form.get("title", ""),
            form.get("body", ""),
            category=form.get("category") or None,
            status=form.get("status") or None,
        )
    except InvalidInput as invalid:
        return show_refused(templates, invalid.field_errors, form=form.to_dict())
    session.commit()
    flash(f"Template “{template.title}” saved.")
    return redirect(url_for("team.templates"), code=303)


@bp.post("/templates/<int:template_id>/delete")
@login_required
def delete_template(template_id: int):
    """Remove a response template."""
    session = db()
    workflow.delete_template(session, current_user(), template_id)
    session.commit()
    flash("Template deleted.")
    return redirect(url_for("team.templates"), code=303)


@bp.get("/settings")
@login_required
def settings(errors: dict[str, str] | None = None, status=200):
    """Service levels per category and how new reports are emailed."""
    user = current_user()
    session = db()
    if user.partner is None:
        return redirect(url_for("casework.queue"))
    return render_template(
        "accounts/team/settings.html",
        targets=sla.targets(session, user.partner),
        email_choice=outbox.new_report_emails(session, user.partner),
        choices=list(NewReportEmails),
        errors=errors or {},
        editable=user.role.value == "partner-admin",
    ), status


@bp.post("/settings/emails")
@login_required
def set_emails():
    """Choose immediate emails, a daily digest or none."""
    session = db()
    try:
        outbox.set_new_report_emails(
            session, current_user(), request.form.get("new_report_emails", "")
        )
    except InvalidInput as invalid:
        return show_refused(settings, invalid.field_errors)
    session.commit()
    flash("Email choice saved.")
    return redirect(url_for("team.settings"), code=303)


@bp.post("/settings/sla")
@login_required
def set_sla():
    """Set the hours to acknowledge and resolve one category."""
    session = db()
    form = request.form
    try:
        target = sla.set_target(
            session,
            current_user(),
            form.get("category", ""),
            form.get("hours_to_acknowledge", ""),
            form.get("hours_to_resolve", ""),
        )
    except InvalidInput as invalid:
        # Each category has its own row of fields on the page.
        category = form.get("category", "")
        return show_refused(
            settings, {f"{category}.{k}": v for k, v in invalid.field_errors.items()}
        )
    session.commit()
    flash(f"Service level for {target.category.name} saved; it applies to new reports.")
    return redirect(url_for("team.settings"), code=303)
