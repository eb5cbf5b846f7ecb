"""The disclosure policy in words: /privacy for everyone, and for admins the policy as stored
(/admin/disclosure) and the log of who viewed sensitive reports (/admin/access-log)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from safer_streets.disclosure import access_log, tables
from safer_streets.errors import NotAllowed
from safer_streets.intake.submission import public_categories
from safer_streets.models import Report, Role
from safer_streets.web.context import current_user, db, services

bp = Blueprint("disclosure", __name__)
admin_bp = Blueprint("disclosure_admin", __name__, url_prefix="/admin")


def _policy_context() -> dict[str, object]:
    rows = tables.policy_rows(public_categories(db()))
    return {
        "public_table": tables.public_table(rows),
        "audience_groups": tables.audience_tables(rows),
        "logged_categories": tables.logged_categories(rows),
    }


@bp.get("/privacy")
def privacy():
    """What the public, partners, the board and admins see of a report, from the policy."""
    return render_template(
        "disclosure/privacy.html",
        retention_days=services().settings.retention_days,
        **_policy_context(),
    )


@admin_bp.before_request
def admins_only():
    """Everyone signs in; only admins read the policy as stored and the access log."""
    user = current_user()
    if user is None:
        return redirect(url_for("casework.login", next=request.full_path.rstrip("?")))
    if not user.active or user.role is not Role.ADMIN:
        raise NotAllowed("only an admin can read the disclosure policy and the access log")
    return None


@admin_bp.get("/disclosure")
def policy():
    """The disclosure policy of every category, as the endpoints apply it now."""
    return render_template("disclosure/admin_policy.html", **_policy_context())


@admin_bp.get("/access-log")
def access_log_page():
    """The latest views of sensitive reports' detail, of one report if a reference is given."""
    reference = request.args.get("reference", "").strip().upper()
    report_id = None
    if reference:
        report_id = db().scalar(select(Report.id).where(Report.reference == reference))
    views = (
        []
        if reference and report_id is None
        else access_log.recent_views(db(), report_id=report_id)
    )
    return render_template(
        "disclosure/access_log.html", views=views, reference=reference, found=report_id is not None
    )
