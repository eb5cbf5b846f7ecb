"""The JSON API (``/api/v1``) and the health check: the contract other tools rely on."""

from __future__ import annotations

import re
from typing import Any

import redis
from flask import Blueprint, jsonify, render_template, request
from markupsafe import Markup, escape
from sqlalchemy import text

from safer_streets.api import keys, openapi
from safer_streets.api.schemas import CategoryView, ReportCreated, ReportView
from safer_streets.errors import InvalidInput, UnsupportedMediaType
from safer_streets.intake.submission import get_report as report_by_reference
from safer_streets.intake.submission import parse_submission, public_categories, receive_report
from safer_streets.models import ApiClient
from safer_streets.redis_client import make_redis
from safer_streets.routing import processing
from safer_streets.web.context import db, external_url, services
from safer_streets.web.json_body import json_body
from safer_streets.web.limits import (
    limit_submissions,
    limiter,
    presented_api_key,
    read_limit,
    write_limit,
)

bp = Blueprint("api", __name__)
limiter.limit(read_limit, methods=["GET"])(bp)

MAX_IDEMPOTENCY_KEY = 200


def _optional_client() -> ApiClient | None:
    """A key is optional; one that is given must be valid, and the report is attributed to it."""
    key = presented_api_key()
    return keys.authenticate(db(), key) if key else None


def _json_body() -> Any:
    if not request.is_json:
        raise UnsupportedMediaType("send the report as JSON with Content-Type: application/json")
    return json_body()


@bp.post("/api/v1/reports")
@limiter.limit(write_limit)
@limit_submissions
def create_report():
    """Take a report; the same Idempotency-Key returns the same report, never a second one."""
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput({"Idempotency-Key": f"must be at most {MAX_IDEMPOTENCY_KEY} characters"})
    client = _optional_client()
    submission = parse_submission(_json_body())
    session = db()
    report, created = receive_report(
        session,
        submission,
        places=services().places,
        source="api",
        idempotency_key=key,
        client=client,
    )
    session.commit()
    if created:
        services().task_queue.process_report(report.id)
    body = ReportCreated.model_validate(
        {
            "reference": report.reference,
            "status": report.status.value,
            "links": {
                "self": external_url("api.get_report", reference=report.reference),
                "tracking": external_url("intake.track", reference=report.reference),
            },
        }
    )
    response = jsonify(body.model_dump(mode="json"))
    response.status_code = 201
    response.headers["Location"] = body.links.self
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/api/v1/reports/<reference>")
def get_report(reference: str):
    """One report's public state."""
    report = report_by_reference(db(), reference)
    return jsonify(ReportView.of(report).model_dump(mode="json"))


@bp.get("/api/v1/categories")
def categories():
    """The categories a report can have, in display order."""
    return jsonify([CategoryView.of(c).model_dump(mode="json") for c in public_categories(db())])


def _server_url() -> str:
    # The configured base URL, never the request's Host header (``external_url``).
    return services().settings.base_url.rstrip("/")


@bp.get("/api/v1/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document, generated from the request and response models."""
    return jsonify(openapi.build_document(_server_url()))


@bp.get("/api/v1/docs")
def docs():
    """The same document as a readable page."""
    document = openapi.build_document(_server_url())
    return render_template("api/docs.html", doc=document, **openapi.docs_context(document))


@bp.app_template_filter("code_spans")
def code_spans(text: str) -> Markup:
    """Escape ``text`` and show its `backticked` (or ``double-backticked``) parts as code."""
    return Markup(re.sub(r"``?([^`]+)``?", r"<code>\1</code>", str(escape(text))))  # noqa: S704


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Database, Redis and worker state, with the routing backlog; 503 if the database is down."""
    settings = services().settings
    body: dict[str, Any] = {}
    try:
        session = db()
        session.execute(text("SELECT 1"))
        backlog = processing.stale_received_ids(session, settings.sweep_after_seconds)
        body["database"] = {"ok": True}
        body["backlog"] = {"stale_received": len(backlog)}
    except Exception as error:
        body["database"] = {"ok": False, "error": type(error).__name__}
    try:
        client = make_redis(settings.redis_url)
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
