"""The JSON API (``/api/v1``) and the health check: the contract other tools rely on."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, jsonify, request, url_for
from sqlalchemy import select, text

from safer_streets import reports
from safer_streets.errors import BadRequest, InvalidInput, UnsupportedMediaType
from safer_streets.models import Category, Report
from safer_streets.web import db, services

bp = Blueprint("api", __name__)

MAX_IDEMPOTENCY_KEY = 200


def report_json(report: Report) -> dict[str, Any]:
    """A report as any client may see it: never the reporter's contact details."""
    return {
        "reference": report.reference,
        "status": report.status.value,
        "category": report.category.slug,
        "ward": {"code": report.ward.code, "name": report.ward.name} if report.ward else None,
        "owner": {"slug": report.owner.slug, "name": report.owner.name} if report.owner else None,
        "notified": [{"slug": p.slug, "name": p.name} for p in report.notified],
        "routing_reason": report.routing_reason,
        "created_at": report.created_at.isoformat(),
        "updated_at": report.updated_at.isoformat(),
    }


def _json_body() -> Any:
    if not request.is_json:
        raise UnsupportedMediaType("send the report as JSON with Content-Type: application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("the body is not valid JSON")
    return data


@bp.post("/api/v1/reports")
def create_report():
    """Take a report; the same Idempotency-Key returns the same report, never a second one."""
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput({"Idempotency-Key": f"must be at most {MAX_IDEMPOTENCY_KEY} characters"})
    submission = reports.parse_submission(_json_body())
    session = db()
    report, created = reports.submit_report(
        session, submission, places=services().places, source="api", idempotency_key=key
    )
    session.commit()
    if created:
        services().task_queue.process_report(report.id)
    body = {
        "reference": report.reference,
        "status": report.status.value,
        "links": {
            "self": url_for("api.get_report", reference=report.reference, _external=True),
            "tracking": url_for("public.track", reference=report.reference, _external=True),
        },
    }
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = body["links"]["self"]
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/api/v1/reports/<reference>")
def get_report(reference: str):
    """One report's public state."""
    return jsonify(report_json(reports.get_report(db(), reference)))


@bp.get("/api/v1/categories")
def categories():
    """The categories a report can have, in display order."""
    rows = db().scalars(select(Category).where(Category.public).order_by(Category.position))
    return jsonify(
        [
            {
                "slug": c.slug,
                "name": c.name,
                "group": c.group,
                "description": c.description,
                "sensitive": c.sensitive,
                "emergency_notice": c.emergency_notice,
            }
            for c in rows
        ]
    )


@bp.get("/healthz")
def healthz():
    """Database, Redis and worker state, with the routing backlog; 503 if the database is down."""
    settings = services().settings
    body: dict[str, Any] = {}
    try:
        session = db()
        session.execute(text("SELECT 1"))
        backlog = reports.stale_received_ids(session, settings.sweep_after_seconds)
        body["database"] = {"ok": True}
        body["backlog"] = {"stale_received": len(backlog)}
    except Exception as error:
        body["database"] = {"ok": False, "error": type(error).__name__}
    try:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        client.ping()
        body["redis"] = {"ok": True, "queue_length": client.llen(settings.celery_queue)}
    except redis.RedisError as error:
        body["redis"] = {"ok": False, "error": type(error).__name__}
    try:
        replies = services().task_queue.celery.control.ping(timeout=0.5)
        body["worker"] = {"ok": bool(replies), "workers": len(replies)}
    except Exception as error:
        body["worker"] = {"ok": False, "error": type(error).__name__}
    ok = body["database"]["ok"]
    parts = (body["database"], body["redis"], body["worker"])
    body["status"] = "ok" if all(p["ok"] for p in parts) else "degraded" if ok else "down"
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    return response
