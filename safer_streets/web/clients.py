"""Who a request comes from, as far as rate limits, idempotency and support may rely on it.

Only what the server can verify is trusted: an API key that matches an active client, the
address the connection came from, and this site's own signed session cookie. Anything a client
merely claims (a well-formed but made-up key, an Idempotency-Key) decides nothing on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from flask import g, request
from flask import session as cookie_session
from sqlalchemy.exc import SQLAlchemyError

from safer_streets.api import keys
from safer_streets.intake import tracking
from safer_streets.models import ApiClient
from safer_streets.web.context import FORM_MIMETYPES, autocommit_session, db, services

# The signed session cookie's entries: this browser as a supporter (see browser_supporter),
# and the references of the reports it made, newest first (see remember_made_here).
SUPPORTER_COOKIE_ENTRY = "supporter"
MADE_HERE_COOKIE_ENTRY = "mine"
REMEMBERED_REFERENCES = 10


def presented_api_key() -> str | None:
    """The API key on this request: ``api_key`` (form or query, as Open311 sends it) or the
    ``X-Api-Key`` header (JSON API)."""
    key = request.headers.get("X-Api-Key") or request.args.get("api_key")
    if not key and request.method != "GET" and request.mimetype in FORM_MIMETYPES:
        # Only a form can carry one: a JSON body is never read as a form for it.
        key = request.form.get("api_key")
    return key or None


def verified_client() -> ApiClient | None:
    """The active client whose key this request presents; None when no key is presented.

    A key that is given must verify: a malformed, unknown or revoked one raises
    ``InvalidApiKey`` (403), on reads as on writes. The check runs once per request (the rate
    limiter asks first, the view again) and records when the key was last used.
    """
    if "api_client" not in g:
        key = presented_api_key()
        client = None
        if key:
            try:
                # last_used_at is written as it is flushed, also on reads, which commit
                # nothing else.
                with autocommit_session() as session:
                    client = keys.authenticate(session, key)
            except keys.InvalidApiKey as refused:
                g.api_client, g.api_key_refused = None, refused.message
                raise
        g.api_client, g.api_key_refused = client, None
    if g.api_key_refused is not None:
        raise keys.InvalidApiKey(g.api_key_refused)
    return g.api_client


def verified_client_or_none() -> ApiClient | None:
    """``verified_client``, with a key that does not verify counting as no key (for limits,
    which then count the request against its address; the view refuses it)."""
    try:
        return verified_client()
    except keys.InvalidApiKey:
        return None
    except SQLAlchemyError:
        # The database is unreachable: count by address, and leave the session usable so that
        # the view answers 503 as it would have without a key.
        db().rollback()
        return None


def required_client() -> ApiClient:
    """The verified client of a request that needs one (Open311 writes); 403 without."""
    client = verified_client()
    if client is None:
        raise keys.InvalidApiKey("api_key is required")
    return client


def address_bucket(address: str) -> str:
    """The address limits count a client by: an IPv4 address as it is, an IPv6 address by its
    /64 network (what one subscriber or one machine is given), so that a client cannot spread
    over the 2^64 addresses of its own network. Anything else (a test client's name) as it is.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def client_address() -> str:
    """This request's address, as limits count it (``address_bucket``)."""
    return address_bucket(request.remote_addr or "unknown")


def browser_supporter(seed: str | None) -> str:
    """Who adds a +1 from a browser or an app without a key: the supporter id kept in this
    site's signed session cookie, so one browser supports one report once.

    A browser without one yet is given one. It is derived from ``seed`` (the form's one-time id
    or an Idempotency-Key) when there is one, so that a retry sent before the cookie was stored
    still counts once; clearing the cookie starts afresh, which the per-address limit on
    support bounds.
    """
    supporter = cookie_session.get(SUPPORTER_COOKIE_ENTRY)
    if not isinstance(supporter, str) or not supporter:
        supporter = (
            hashlib.sha256(seed.encode()).hexdigest()[:32] if seed else secrets.token_hex(16)
        )
        cookie_session[SUPPORTER_COOKIE_ENTRY] = supporter
    return f"browser:{supporter}"


def address_supporter(client: ApiClient | None) -> str:
    """Who adds a +1 as far as their address tells: one voice per address (and verified API
    client) per report. Keyed with the app's secret before it is hashed again with the report,
    so that the stored hash cannot be matched against a list of all addresses."""
    seen = f"{client_address()}|{client.id if client is not None else '-'}"
    secret = services().settings.secret_key.encode()
    return "address:" + hmac.new(secret, seen.encode(), hashlib.sha256).hexdigest()


def remember_made_here(reference: str) -> None:
    """This browser made this report (only the last few are kept)."""
    mine = [r for r in cookie_session.get(MADE_HERE_COOKIE_ENTRY, []) if r != reference]
    cookie_session[MADE_HERE_COOKIE_ENTRY] = [reference, *mine][:REMEMBERED_REFERENCES]


def made_here(reference: str) -> bool:
    """Whether this browser made the report with this reference."""
    return reference.strip().upper() in cookie_session.get(MADE_HERE_COOKIE_ENTRY, [])


def is_reporter(reference: str) -> bool:
    """Whether this request comes from the report's reporter: it presents the report's private
    tracking link (``?key=``), or it is the browser that made the report."""
    secret = services().settings.secret_key
    key = request.args.get(tracking.KEY_PARAMETER)
    return made_here(reference) or tracking.holds_tracking_key(secret, reference, key)


def private_tracking_key(reference: str) -> str:
    """The key of the report's private tracking link, to give to its reporter only."""
    return tracking.tracking_key(services().settings.secret_key, reference)
