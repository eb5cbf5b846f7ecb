"""Rate limits (Flask-Limiter on Redis): one limiter for the whole app, initialised here.

Requests made with an API key count against that key, wherever they come from; others count
against the client's address. Limits are read from the settings on each request, so a
deployment (or a test) tunes them without code. If Redis is unreachable, requests are let
through rather than refused: losing a report is worse than a burst getting in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from safer_streets.api_keys import key_prefix
from safer_streets.settings import Settings
from safer_streets.web import services


def presented_api_key() -> str | None:
    """The API key on this request: ``api_key`` (form or query, as Open311 sends it) or the
    ``X-Api-Key`` header (JSON API)."""
    return request.headers.get("X-Api-Key") or request.values.get("api_key") or None


def rate_limit_key() -> str:
    """Who a request counts against: its API key's prefix, else its address."""
    key = presented_api_key()
    prefix = key_prefix(key) if key else None
    return f"key:{prefix}" if prefix else f"ip:{get_remote_address()}"


P = ParamSpec("P")
R = TypeVar("R")

limiter = Limiter(key_func=rate_limit_key, headers_enabled=True)


def write_limit() -> str:
    """The limit on creating reports and posting updates."""
    return services().settings.api_write_rate_limit


def read_limit() -> str:
    """The limit on reading the APIs."""
    return services().settings.api_read_rate_limit


def init_app(app: Flask, settings: Settings) -> None:
    """Point the limiter at Redis and attach it to the app."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url)
    app.config.setdefault(
        "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    )
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"{settings.celery_queue}-limits")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)


# ---- Submissions: per client (resident form) and per area (every channel) --------------------


def submission_limit() -> str:
    """Reports one address may send through the resident form."""
    return services().settings.submission_rate_limit


def area_limit() -> str:
    """Reports about one area (a ~1 km cell, or one typed place) from all channels together."""
    return services().settings.area_rate_limit


def area_key() -> str:
    """The area a submission is about: its point rounded to 0.01 degrees, else its place text."""
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        return "area:unknown"
    try:
        lat = round(float(data.get("lat")), 2)
        lon = round(float(data.get("lon", data.get("long"))), 2)
    except (TypeError, ValueError):
        text = str(data.get("location_text") or data.get("address_string") or "")
        return "area:text:" + " ".join(text.lower().split())[:60]
    return f"area:{lat}:{lon}"


def limit_submissions(view: Callable[P, R]) -> Callable[P, R]:
    """Limit a view's POSTs per area (and the caller is limited per client by its own rule)."""
    return limiter.limit(area_limit, key_func=area_key, methods=["POST"])(view)
