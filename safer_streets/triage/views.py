"""Partner triage: sign in and work the partner's own queue."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask import session as cookie_session

from safer_streets import accounts, queues
from safer_streets.models import ReportStatus
from safer_streets.web import current_user, db, login_required

bp = Blueprint("triage", __name__)


def _safe_next(target: str | None) -> str:
    """Only ever redirect within this site after login."""
    if target and target.startswith("/") and not urlsplit(target).netloc:
        return target
    return url_for("triage.queue")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    error = None
    email = request.form.get("email", "")
    if request.method == "POST":
        user = accounts.authenticate(db(), email, request.form.get("password", ""))
        if user is not None:
            db().commit()
            cookie_session.clear()
            cookie_session.permanent = True
            cookie_session["user_id"] = user.id
            return redirect(_safe_next(request.args.get("next")), code=303)
        error = "That email and password do not match an active account."
    status = 401 if error else 200
    return render_template("triage/login.html", error=error, email=email), status


@bp.post("/logout")
def logout():
    """Sign out."""
    cookie_session.clear()
    return redirect(url_for("triage.login"), code=303)


@bp.get("/triage")
@login_required
def queue():
    """The signed-in user's queue."""
    raw_status = request.args.get("status", "")
    status = ReportStatus(raw_status) if raw_status in set(ReportStatus) else None
    page = request.args.get("page", "1")
    page_number = int(page) if page.isdigit() else 1
    result = queues.queue(db(), current_user(), status=status, page=page_number)
    return render_template(
        "triage/queue.html", result=result, status=status, statuses=list(ReportStatus)
    )


@bp.get("/triage/reports/<reference>")
@login_required
def report_detail(reference: str):
    """One report in the user's queue, with its routing reason and history."""
    report = queues.report_for(db(), current_user(), reference)
    return render_template("triage/report.html", report=report)
