"""Rate limits (Flask-Limiter on Redis): one limiter for the whole app, initialised here.

Requests made with an API key that verifies count against that key, wherever they come from;
all others, including those with a made-up, unknown or revoked key, count against the client's
address (an IPv6 client by its /64). Limits come from the settings, so a deployment (or a
test) tunes them without code. If Redis is unreachable, requests are let through rather than
refused: losing a report is worse than a burst getting in.

New reports (the JSON API and the resident form) meet two limits at once, per client and per
area; ``SubmissionLimits`` checks and counts both in one Redis round trip, with the limits
parsed when the app starts, as they sit on the busiest write path.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import redis
from flask import Flask, Response, current_app, g, request
from flask import session as cookie_session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from werkzeug.exceptions import TooManyRequests

from safer_streets.errors import BadRequest
from safer_streets.redis_client import make_redis, redis_options
from safer_streets.settings import Settings
from safer_streets.web.clients import client_address, made_here, verified_client_or_none
from safer_streets.web.context import current_user, services
from safer_streets.web.json_body import json_body

logger = logging.getLogger(__name__)


def rate_limit_key() -> str:
    """Who a request counts against: the client whose API key verified, else its address.

    A key is looked up before it decides anything: were a well-formed key enough, every
    made-up key would get a fresh allowance of its own.
    """
    client = verified_client_or_none()
    return f"key:{client.key_prefix}" if client is not None else f"ip:{client_address()}"


P = ParamSpec("P")
R = TypeVar("R")

# The X-RateLimit-* headers would cost two more Redis round trips on every request: only a
# refusal says when to come back (``Retry-After``, set in ``init_app``).
limiter = Limiter(key_func=rate_limit_key)


def write_limit() -> str:
    """The limit on creating reports and posting updates."""
    return services().settings.api_write_rate_limit


def read_limit() -> str:
    """The limit on reading the APIs."""
    return services().settings.api_read_rate_limit


def init_app(app: Flask, settings: Settings) -> None:
    """Point the limiter at Redis and attach it to the app."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", redis_options())
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"{settings.celery_queue}-limits")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
    app.after_request(_retry_after)
    client = make_redis(settings.redis_url)
    prefix = f"{settings.celery_queue}-submissions"
    app.extensions[SUBMISSION_LIMITS] = {
        channel: SubmissionLimits(
            client, prefix, channel, per_client=per_client, per_area=settings.area_rate_limit
        )
        for channel, per_client in (
            ("api", settings.api_write_rate_limit),
            ("form", settings.submission_rate_limit),
        )
    }


def _retry_after(response: Response) -> Response:
    """Tell a refused client how many seconds until the limit it hit resets."""
    if response.status_code == 429 and (breached := limiter.current_limit) is not None:
        response.headers["Retry-After"] = str(max(1, int(breached.reset_at - time.time())))
    return response


# ---- Sign-in: failed attempts per account from one address, and per address -------------
# Only failures count, so an office behind one address is not locked out by its own
# successful sign-ins. Nothing counts failures against an account as a whole: that would let
# anyone lock staff out by typing wrong passwords for them. A guesser is slowed at its own
# address instead, for one account and for all accounts together, while the owner, from any
# other address, signs in as usual. Over a limit the generic error page explains, with
# `Retry-After`.

SIGN_IN_REFUSED = (
    "Too many failed sign-in attempts from this address. Wait a few minutes (the Retry-After "
    "header says exactly how long) and try again, or reset your password."
)
REAUTHENTICATION_REFUSED = (
    "Too many wrong passwords from this address. Wait a few minutes (the Retry-After header "
    "says exactly how long) and try again."
)

# One count for every page that checks a password or a code, so that a guesser spreading its
# attempts over them meets one limit, not one per page.
SIGN_IN_SCOPE = "sign-in"


def per_account_limit() -> str:
    """Failed sign-ins allowed for one account from one address."""
    return services().settings.login_limit_per_account


def per_address_limit() -> str:
    """Failed sign-ins allowed from one address, whichever accounts they are for."""
    return services().settings.login_limit_per_address


def account_key() -> str:
    """The account being signed in to (the typed email, or the one awaiting its code), from
    this address."""
    pending = cookie_session.get("pending_user_id")
    email = request.form.get("email", "").strip().lower()
    # A typed email wins: the password form may be sent again while an earlier sign-in
    # still waits for its code, and is then about the account it names.
    account = f"email:{email}" if email or not pending else f"user:{pending}"
    return f"{account}|ip:{get_remote_address()}"


def failed(response: Response) -> bool:
    """Count an attempt against the limits only when it failed."""
    return response.status_code == 401


def _limit_failures(
    view: Callable[P, R], key: Callable[[], str], when: Callable[[Response], bool], message: str
) -> Callable[P, R]:
    for limit, key_func in ((per_account_limit, key), (per_address_limit, get_remote_address)):
        view = limiter.shared_limit(
            limit,
            scope=SIGN_IN_SCOPE,
            key_func=key_func,
            methods=["POST"],
            deduct_when=when,
            error_message=message,
        )(view)
    return view


def sign_in_limits(view: Callable[P, R]) -> Callable[P, R]:
    """Limit failed POSTs to a sign-in view per account from one address, and per address."""
    return _limit_failures(view, account_key, failed, SIGN_IN_REFUSED)


# ---- Asking a signed-in user for their password again -----------------------------------
# Pages that ask for the password again (two-step set-up and removal, changing the password)
# must not become a way round the sign-in limits for whoever holds a session: wrong passwords
# there count against the same limits.


def signed_in_account_key() -> str:
    """The signed-in account (as the cookie says; the view checks it), from this address."""
    return f"user:{cookie_session.get('user_id')}|ip:{get_remote_address()}"


def note_wrong_password() -> None:
    """Record that this request's password was wrong, so that it counts against the limits."""
    g.wrong_password = True


def wrong_password(_response: Response) -> bool:
    """Whether the view said the password was wrong."""
    return bool(g.get("wrong_password"))


def password_check_limits(view: Callable[P, R]) -> Callable[P, R]:
    """Limit wrong passwords on a page that asks a signed-in user for theirs."""
    return _limit_failures(view, signed_in_account_key, wrong_password, REAUTHENTICATION_REFUSED)


# ---- Submissions: per client (resident form) and per area (every channel) --------------------


def submission_limit() -> str:
    """Reports one address may send through the resident form."""
    return services().settings.submission_rate_limit


def area_limit() -> str:
    """Reports about one area (a ~1 km cell, or one typed place) from all channels together."""
    return services().settings.area_rate_limit


def area_key() -> str:
    """The area a submission is about: its point rounded to 0.01 degrees, else its place text."""
    if request.is_json:
        try:
            data: Any = json_body()
        except BadRequest:
            return "area:unknown"  # the view refuses the body and says why
    else:
        data = request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        return "area:unknown"
    try:
        lat = round(float(data.get("lat")), 2)
        lon = round(float(data.get("lon", data.get("long"))), 2)
    except (TypeError, ValueError, OverflowError):
        text = str(data.get("location_text") or data.get("address_string") or "")
        return "area:text:" + " ".join(text.lower().split())[:60]
    return f"area:{lat}:{lon}"


def limit_submissions(view: Callable[P, R]) -> Callable[P, R]:
    """Limit a view's POSTs per area (and the caller is limited per client by its own rule)."""
    return limiter.limit(area_limit, key_func=area_key, methods=["POST"])(view)


SUBMISSION_LIMITS = "safer_streets_submission_limits"

# Fixed windows, as Flask-Limiter's default strategy. Every limit is read first and only a
# request within all of them is counted, so a refused request uses up nothing; being one
# script, no other request counts in between. Returns {0, 0}, or the refusing limit's
# position (from 1) and the seconds until its window ends.
_CHECK_AND_COUNT = """
for i, key in ipairs(KEYS) do
    local used = tonumber(redis.call('GET', key) or '0')
    if used >= tonumber(ARGV[2 * i - 1]) then
        return {i, redis.call('TTL', key)}
    end
end
for i, key in ipairs(KEYS) do
    if redis.call('INCR', key) == 1 then
        redis.call('EXPIRE', key, ARGV[2 * i])
    end
end
return {0, 0}
"""


@dataclass(frozen=True)
class Refusal:
    """Which limit refused a request, and how many seconds until it may try again."""

    limit: RateLimitItem
    retry_after: int


class SubmissionLimits:
    """A client's limit and an area's limit on new reports, checked and counted together in
    one Redis round trip (a script Redis keeps, sent by its hash)."""

    def __init__(
        self, client: redis.Redis, prefix: str, channel: str, *, per_client: str, per_area: str
    ) -> None:
        self.prefix = prefix
        self.channel = channel
        self.per_client: Sequence[RateLimitItem] = parse_many(per_client)
        self.per_area: Sequence[RateLimitItem] = parse_many(per_area)
        self._script = client.register_script(_CHECK_AND_COUNT)
        limits = (*self.per_client, *self.per_area)
        self._limits = limits
        self._arguments = [n for item in limits for n in (item.amount, item.get_expiry())]

    def _keys(self, who: str, area: str) -> list[str]:
        # The area's count is shared by every channel (scope "area"); the client's per rule.
        return [
            f"{self.prefix}/{scope}/{key}/{item.amount}/{item.get_expiry()}"
            for scope, key, items in (
                ("client", who, self.per_client),
                ("area", area, self.per_area),
            )
            for item in items
        ]

    def hit(self, who: str, area: str) -> Refusal | None:
        """Count one new report from ``who`` about ``area``, or say which limit refuses it.

        With Redis unreachable the report is let through (see the module's docstring).
        """
        try:
            refused, ttl = self._script(keys=self._keys(who, area), args=self._arguments)
        except redis.RedisError as error:
            logger.warning("Rate limits unchecked, Redis unavailable: %s", error)
            return None
        if not refused:
            return None
        limit = self._limits[int(refused) - 1]
        return Refusal(limit, max(1, int(ttl)))


def _counts_its_own() -> bool:
    # Flask-Limiter asks its filters before anything else; without this it would resolve, and
    # parse, every limit that might apply to the view (its blueprint's read limit, for GETs)
    # on each new report only to find none.
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "counts_own_limits", False)


limiter.request_filter(_counts_its_own)


def limit_reports(channel: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Limit a view's POSTs per client (``channel``'s rule: "api" or "form") and per area, in
    one Redis round trip; a refusal is a 429 with Retry-After.

    Flask-Limiter leaves the view alone: it has no other limits.
    """

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            if request.method == "POST":
                limits: SubmissionLimits = current_app.extensions[SUBMISSION_LIMITS][channel]
                if refusal := limits.hit(rate_limit_key(), area_key()):
                    raise TooManyRequests(
                        f"Too many reports: {refusal.limit}. Try again later.",
                        retry_after=refusal.retry_after,
                    )
            return view(*args, **kwargs)

        limited.counts_own_limits = True  # type: ignore[attr-defined]
        return limited

    return decorate


# ---- Look-ups by reference: one allowance shared by every page and API that takes one --------
# A reference is short enough to be guessed; a per-address limit, shared by every place that
# looks one up, turns guessing into hours of work while a resident following their report
# never notices it.


def lookup_limit() -> str:
    """Reference look-ups allowed per API key, or per address without one."""
    return services().settings.lookup_rate_limit


def _not_a_guess() -> bool:
    # The browser that made a report follows it (the confirmation page polls the API while
    # the report is routed), and partner staff open many reports and photos from one office
    # address; neither is guessing. Staff see what their role allows, not what a reference does.
    reference = (request.view_args or {}).get("reference")
    if isinstance(reference, str) and made_here(reference):
        return True
    return current_user() is not None


def limit_lookups(view: Callable[P, R]) -> Callable[P, R]:
    """Count a view's requests against the client's one shared allowance of look-ups, on top
    of any limit its blueprint sets (the API's read limit); a browser's look-ups of its own
    reports and signed-in staff are not counted."""
    return limiter.shared_limit(
        lookup_limit, scope="reference-lookup", override_defaults=False, exempt_when=_not_a_guess
    )(view)
