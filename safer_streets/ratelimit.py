"""Sign-in throttling with Flask-Limiter on Redis: per account and per address.

Only failed attempts count, so a busy office behind one address is not locked out by its own
successful sign-ins; a guesser is slowed whichever accounts or addresses it spreads over.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, current_app, render_template, request
from flask import session as cookie_session
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from safer_streets.settings import Settings

limiter = Limiter(
    key_func=get_remote_address,
    strategy="moving-window",
    key_prefix="safer-streets",
    # If Redis is down, limits still apply per process rather than not at all.
    in_memory_fallback_enabled=True,
)


def _settings() -> Settings:
    return current_app.extensions["safer_streets"].settings


def per_account_limit() -> str:
    """Failed sign-ins allowed for one account."""
    return _settings().login_limit_per_account


def per_address_limit() -> str:
    """Failed sign-ins allowed from one address."""
    return _settings().login_limit_per_address


def account_key() -> str:
    """The account being signed in to: the typed email, or the one awaiting its code."""
    pending = cookie_session.get("pending_user_id")
    if pending:
        return f"user:{pending}"
    return "email:" + request.form.get("email", "").strip().lower()


def failed(response: Response) -> bool:
    """Count an attempt against the limits only when it failed."""
    return response.status_code == 401


def retry_after_seconds() -> int:
    """Seconds until the limit that was just hit lets another attempt through."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def init_app(app: Flask, settings: Settings) -> None:
    """Store counters in the app's Redis; render a clear 429 with ``Retry-After``."""
    app.config["RATELIMIT_STORAGE_URI"] = settings.redis_url
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def too_many_attempts(error: RateLimitExceeded):
        seconds = retry_after_seconds()
        minutes = max(1, math.ceil(seconds / 60))
        message = (
            "Too many failed sign-in attempts. For your account's safety, wait "
            f"{minutes} minute{'s' if minutes != 1 else ''} and try again, or reset your password."
        )
        template = "triage/login.html"
        if request.endpoint == "account.forgot_password":
            template = "account/forgot.html"
            message = f"Too many requests. Wait {minutes} minute(s) and try again."
        body = render_template(template, error=message, email=request.form.get("email", ""))
        return body, 429, {"Retry-After": str(seconds)}
