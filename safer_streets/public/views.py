"""What residents see: the report form, the confirmation and the tracking page."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from safer_streets import reports
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import Category
from safer_streets.web import db, services

bp = Blueprint("public", __name__)
LONDON = ZoneInfo("Europe/London")
TEXT_FIELDS = ("category", "lat", "lon", "description", "contact_email")


def _categories() -> list[Category]:
    return list(db().scalars(select(Category).where(Category.public).order_by(Category.position)))


def form_to_submission(form: dict[str, str]) -> dict[str, Any]:
    """Map the HTML form's strings onto the submission fields; blanks are absent."""
    data: dict[str, Any] = {
        name: form[name].strip() for name in TEXT_FIELDS if form.get(name, "").strip()
    }
    data["anonymous"] = form.get("share_details") != "yes"
    occurred = form.get("occurred_at", "").strip()
    if occurred:
        try:
            # <input type="datetime-local"> has no zone: residents mean London time.
            data["occurred_at"] = datetime.fromisoformat(occurred).replace(tzinfo=LONDON)
        except ValueError:
            data["occurred_at"] = occurred
    return data


@bp.get("/")
def home():
    """The front page: what Safer Streets is and a way to report."""
    return render_template("public/home.html")


@bp.route("/report", methods=["GET", "POST"])
def report_form():
    """Report a problem; errors are shown next to their fields and nothing typed is lost."""
    form = request.form.to_dict() if request.method == "POST" else {}
    if request.method == "GET":
        form = {"category": request.args.get("category", "")}
        for name in ("lat", "lon"):
            form[name] = request.args.get(name, "")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            submission = reports.parse_submission(form_to_submission(form))
            session = db()
            report, created = reports.submit_report(
                session,
                submission,
                places=services().places,
                source="web",
                # One id per rendered form: a double tap or a resubmitted page makes one report.
                idempotency_key=form.get("submission_id") or None,
            )
            session.commit()
            if created:
                services().task_queue.process_report(report.id)
            return redirect(url_for("public.submitted", reference=report.reference), code=303)
        except InvalidInput as invalid:
            errors = invalid.field_errors
    form.setdefault("submission_id", str(uuid.uuid4()))
    status = 422 if errors else 200
    return (
        render_template(
            "public/report_form.html", form=form, errors=errors, categories=_categories()
        ),
        status,
    )


@bp.get("/report/<reference>/sent")
def submitted(reference: str):
    """The confirmation page: the reference and what happens next."""
    report = reports.get_report(db(), reference)
    return render_template("public/submitted.html", report=report)


@bp.get("/track")
def track_lookup():
    """Find a report by the reference a resident was given."""
    reference = request.args.get("reference", "").strip()
    if reference:
        return redirect(url_for("public.track", reference=reference.upper()))
    return render_template("public/track_lookup.html")


@bp.get("/track/<reference>")
def track(reference: str):
    """A report's status and public updates only: no internal notes, no contact details."""
    try:
        report = reports.get_report(db(), reference)
    except NotFound:
        return render_template("public/track_lookup.html", not_found=reference), 404
    updates = [event for event in report.events if event.public]
    return render_template("public/track.html", report=report, updates=updates)
