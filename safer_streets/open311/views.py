"""The Open311 GeoReport v2 endpoints: parse → authenticate → call ``georeport`` → render.

Every resource answers in XML (``.xml``, required by the spec) and JSON (``.json``). Errors
anywhere under ``/open311/`` are the spec's ``errors`` document in the requested format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, request

from safer_streets.intake.submission import parse_idempotency_key, scoped_idempotency_key
from safer_streets.models import ApiClient
from safer_streets.open311 import georeport, updates
from safer_streets.open311.render import MIMETYPES, errors_payload, render
from safer_streets.web.clients import required_client, verified_client
from safer_streets.web.context import db, external_url, register_error_renderer, services
from safer_streets.web.limits import (
    limit_lookups,
    limit_submissions,
    limiter,
    read_limit,
    write_limit,
)

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(xml, json):fmt>"

limiter.limit(read_limit, methods=["GET"])(bp)


def respond(fmt: str, root: str, payload: Any, status: int = 200) -> Response:
    """A document in the requested format."""
    return Response(
        render(fmt, root, payload), status=status, mimetype=MIMETYPES[fmt], content_type=None
    )


def render_error(status: int, title: str, detail: str, errors: dict[str, str] | None) -> Response:
    """Any error under /open311/ as the spec's errors document: 400 for bad input (the spec
    has no 422), 403 for a missing or invalid key, 404 for anything unknown."""
    status = 400 if status == 422 else status
    fmt = "json" if request.path.endswith(".json") else "xml"
    return respond(fmt, "errors", errors_payload(status, detail, errors), status)


def init_app(app: Flask) -> None:
    """Render errors under /open311/ in the spec's format."""
    register_error_renderer(app, "/open311/", render_error)


def _params() -> dict[str, str]:
    """Query and form parameters, first non-empty value of each."""
    return {key: value for key, value in request.values.items() if value.strip()}


def _optional_client() -> ApiClient | None:
    """Reading needs no key; a key that is given must be valid (403), and its use is recorded.
    Asked after the limits have counted the request, so a made-up key costs its address."""
    return verified_client()


@bp.get(f"/discovery.{FMT}")
def discovery(fmt: str):
    """Service discovery: where the endpoint is and in which formats."""
    # From the configured base URL, never the request's Host header (``external_url``).
    base = services().settings.base_url.rstrip("/")
    return respond(fmt, "discovery", georeport.discovery(base, external_url("api.docs")))


@bp.get(f"/services.{FMT}")
def service_list(fmt: str):
    """One service per public category."""
    georeport.check_jurisdiction(request.args.get("jurisdiction_id"))
    _optional_client()
    return respond(fmt, "services", georeport.service_list(db()))


@bp.get(f"/services/<service_code>.{FMT}")
def service_definition(service_code: str, fmt: str):
    """A service's attributes (the reasons of feeling-unsafe)."""
    georeport.check_jurisdiction(request.args.get("jurisdiction_id"))
    _optional_client()
    return respond(fmt, "service_definition", georeport.service_definition(db(), service_code))


@bp.post(f"/requests.{FMT}")
@limiter.limit(write_limit)
@limit_submissions
def create_request(fmt: str):
    """Create a service request; needs an api_key. An ``Idempotency-Key`` header (not in
    GeoReport v2, and ignored by servers that do not know it) makes a repeated post safe."""
    session = db()
    client = required_client()
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    form = georeport.parse_form(request.form.items(multi=True))
    result = georeport.create_request(
        session,
        client,
        form,
        places=services().places,
        idempotency_key=scoped_idempotency_key(key, channel="open311", client=client)
        if key
        else None,
    )
    session.commit()
    if result.created:
        services().task_queue.process_report(result.report.id)
    response = respond(fmt, "service_requests", [georeport.created_view(result)])
    if not result.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get(f"/requests.{FMT}")
def request_list(fmt: str):
    """Service requests, newest first, filtered as the spec describes."""
    _optional_client()
    found = georeport.find_requests(db(), _params(), datetime.now(UTC))
    return respond(fmt, "service_requests", [georeport.request_view(r) for r in found])


@bp.get(f"/requests/<service_request_id>.{FMT}")
@limit_lookups
def request_detail(service_request_id: str, fmt: str):
    """One service request."""
    _optional_client()
    shown = georeport.get_request(db(), service_request_id, _params())
    return respond(fmt, "service_requests", [georeport.request_view(shown)])


@bp.get(f"/tokens/<token>.{FMT}")
def token(token: str, fmt: str):
    """The service_request_id a POST's token stands for."""
    _optional_client()
    return respond(fmt, "service_requests", [georeport.find_token(db(), token, _params())])


@bp.get(f"/servicerequestupdates.{FMT}")
def update_list(fmt: str):
    """Public updates in a window (mySociety extension)."""
    _optional_client()
    found = updates.find_updates(db(), _params(), datetime.now(UTC))
    return respond(fmt, "service_request_updates", found)


@bp.post(f"/servicerequestupdates.{FMT}")
@limiter.limit(write_limit)
def post_update(fmt: str):
    """A partner system's status update or note; needs an api_key acting for a partner."""
    session = db()
    client = required_client()
    form = georeport.parse_form(request.form.items(multi=True))
    posted = updates.post_update(session, client, form, now=datetime.now(UTC))
    session.commit()
    services().task_queue.send_emails(posted.emails)
    return respond(fmt, "service_request_updates", [{"update_id": str(posted.event.id)}])
