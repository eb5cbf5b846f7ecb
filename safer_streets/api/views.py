"""The JSON API (``/api/v1``) and the health check: the contract other tools rely on."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from markupsafe import Markup, escape

from safer_streets import health, taxonomy
from safer_streets.api import openapi
from safer_streets.api.schemas import CategoryView, ReportView
from safer_streets.disclosure.access_log import record_views
from safer_streets.errors import UnsupportedMediaType
from safer_streets.intake import tracking
from safer_streets.intake.submission import (
    parse_idempotency_key,
    parse_submission,
    public_categories,
    receive_report,
    scoped_idempotency_key,
)
from safer_streets.models import ApiClient
from safer_streets.web.clients import (
    client_address,
    is_reporter,
    private_tracking_key,
    verified_client,
)
from safer_streets.web.context import db, external_url, services, store_in_one_transaction
from safer_streets.web.json_body import json_body
from safer_streets.web.limits import limit_lookups, limit_reports, limiter, read_limit

bp = Blueprint("api", __name__)
limiter.limit(read_limit, methods=["GET"])(bp)


def _optional_client() -> ApiClient | None:
    """A key is optional on every request; one that is given must verify (403 otherwise, on
    reads as on writes), and a report made with it is attributed to its client. Views ask
    after their limits have counted the request, so a made-up key costs its address."""
    return verified_client()


def _json_body() -> Any:
    if not request.is_json:
        raise UnsupportedMediaType("send the report as JSON with Content-Type: application/json")
    return json_body()


@bp.post("/api/v1/reports")
@limit_reports("api")
def create_report():
    """Take a report; the same Idempotency-Key from the same client returns the same report,
    never a second one, and never another client's."""
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    client = _optional_client()
    submission = parse_submission(_json_body())
    stored_key = scoped_idempotency_key(key, channel="api", client=client) if key else None
    receipt, created = store_in_one_transaction(
        lambda connection: receive_report(
            connection,
            submission,
            places=services().places,
            source="api",
            idempotency_key=stored_key,
            client=client,
        )
    )
    # Committed: the worker can only be asked once the report exists.
    if created:
        services().task_queue.process_report(receipt.id)
    reference = receipt.reference
    link = external_url("api.get_report", reference=reference)
    # The body of ``ReportCreated`` (the OpenAPI document's), written out directly: this is the
    # busiest response there is, and a model built only to be dumped again is work for nothing.
    body = {
        "reference": reference,
        "status": receipt.status.value,
        "links": {
            "self": link,
            # The reporter's own link: it opens the report whatever its category.
            "tracking": external_url(
                "intake.track", reference=reference, key=private_tracking_key(reference)
            ),
        },
    }
    response = current_app.response_class(json.dumps(body), 201, mimetype="application/json")
    response.headers["Location"] = link
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/api/v1/reports/<reference>")
@limit_lookups
def get_report(reference: str):
    """One report as its reader may see it (the disclosure policy)."""
    client = _optional_client()
    session = db()
    shown = tracking.look_up(session, reference, reporter=is_reporter(reference), client=client)
    if client is not None and record_views(
        session, [shown], viewer=client, surface="api", address=client_address()
    ):
        session.commit()
    return jsonify(ReportView.of(shown).model_dump(mode="json"))


@bp.get("/api/v1/categories")
def categories():
    """The categories a report can have, in display order."""
    _optional_client()
    session = db()
    return jsonify(
        [
            CategoryView.of(c, taxonomy.reasons_for(session, c.slug)).model_dump(mode="json")
            for c in public_categories(session)
        ]
    )


def _server_url() -> str:
    # The configured base URL, never the request's Host header (``external_url``).
    return services().settings.base_url.rstrip("/")


@bp.get("/api/v1/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document, generated from the request and response models."""
    _optional_client()
    return jsonify(openapi.build_document(_server_url()))


@bp.get("/api/v1/docs")
def docs():
    """The same document as a readable page."""
    _optional_client()
    document = openapi.build_document(_server_url())
    return render_template("api/docs.html", doc=document, **openapi.docs_context(document))


@bp.app_template_filter("code_spans")
def code_spans(text: str) -> Markup:
    """Escape ``text`` and show its `backticked` (or ``double-backticked``) parts as code."""
    return Markup(re.sub(r"``?([^`]+)``?", r"<code>\1</code>", str(escape(text))))  # noqa: S704


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Every part's state and the status with its reasons (``health.check``); 503 if the
    database is down."""
    body, status = health.check(db(), services().settings, services().task_queue.celery)
    response = jsonify(body)
    response.status_code = status
    return response
