"""API keys for Open311 and JSON API clients: issued by admins, stored hashed, revocable.

A key looks like ``ssk_1a2b3c4d_<43 random characters>``. The part after ``ssk_`` up to the
second underscore is the prefix, stored in clear to find the client; the whole key is stored
only as a SHA-256 hash. A fast hash is right here, unlike for passwords: the secret part is 256
random bits, so there is nothing to guess from a leaked hash, and every API call checks a key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from safer_streets.errors import InvalidInput, NotAllowed, NotFound
from safer_streets.models import ApiClient, Partner, Role, User

logger = logging.getLogger(__name__)

KEY_SCHEME = "ssk"
_KEY_RE = re.compile(rf"^{KEY_SCHEME}_(?P<prefix>[0-9a-f]{{8}})_[A-Za-z0-9_-]{{43}}$")
MAX_NAME_CHARS = 200
# Recording every use would write a row per API call; once a minute says "in use" as well.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class InvalidApiKey(NotAllowed):
    """The key is missing, malformed, unknown or revoked (Open311: HTTP 403)."""

    title = "Invalid API key"


@dataclass(frozen=True)
class IssuedKey:
    """A newly created client and its key: the only time the key exists in clear."""

    client: ApiClient
    key: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _require_admin(actor: User | None) -> None:
    # None is the operator at the command line, who already holds the database credentials.
    if actor is not None and actor.role is not Role.ADMIN:
        raise NotAllowed("only administrators manage API keys")


def create_client(
    session: Session, *, name: str, partner_slug: str | None, actor: User | None
) -> IssuedKey:
    """Issue a key to a named client, optionally acting for a partner."""
    _require_admin(actor)
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "is required"
    elif len(name) > MAX_NAME_CHARS:
        errors["name"] = f"must be at most {MAX_NAME_CHARS} characters"
    partner = None
    if partner_slug:
        partner = session.scalar(select(Partner).where(Partner.slug == partner_slug.strip()))
        if partner is None:
            errors["partner"] = f"unknown partner {partner_slug!r}"
    if errors:
        raise InvalidInput(errors)
    prefix = secrets.token_hex(4)
    while session.scalar(select(ApiClient.id).where(ApiClient.key_prefix == prefix)):
        prefix = secrets.token_hex(4)  # pragma: no cover - one in four billion
    key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    client = ApiClient(
        name=name, partner=partner, key_prefix=prefix, key_hash=_hash(key), created_by=actor
    )
    session.add(client)
    session.flush()
    return IssuedKey(client, key)


def list_clients(session: Session, *, actor: User | None) -> list[ApiClient]:
    """Every client, newest first, with its partner."""
    _require_admin(actor)
    query = select(ApiClient).options(joinedload(ApiClient.partner)).order_by(ApiClient.id.desc())
    return list(session.scalars(query))


def revoke_client(session: Session, client_id: int, *, actor: User | None) -> ApiClient:
    """Revoke a client's key at once; revoking twice keeps the first time."""
    _require_admin(actor)
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"no API client with id {client_id}")
    if client.revoked_at is None:
        client.revoked_at = datetime.now(UTC)
    session.flush()
    return client


def key_prefix(key: str) -> str | None:
    """The prefix of a well-formed key (what rate limits count by), else None."""
    match = _KEY_RE.match(key.strip())
    return match.group("prefix") if match else None


# Built once: every request that presents a key runs it. The partner comes in the same query:
# a report made with the key names it, after the session that loaded the client has closed.
_BY_PREFIX = (
    select(ApiClient)
    .options(joinedload(ApiClient.partner))
    .where(ApiClient.key_prefix == bindparam("prefix"))
)


def authenticate(session: Session, key: str | None) -> ApiClient:
    """The active client holding ``key``, or ``InvalidApiKey``; records when it was last used."""
    if not key or not key.strip():
        raise InvalidApiKey("api_key is required")
    prefix = key_prefix(key)
    client = None
    if prefix is not None:
        client = session.scalar(_BY_PREFIX, {"prefix": prefix})
    # The comparison runs even for an unknown prefix so timing does not tell which exist.
    expected = client.key_hash if client is not None else _hash("")
    if not hmac.compare_digest(expected, _hash(key.strip())) or client is None:
        raise InvalidApiKey("api_key is not valid")
    if client.revoked_at is not None:
        raise InvalidApiKey("api_key has been revoked")
    # With the access log, this names the client behind every keyed request.
    logger.info("Request by API client %s (%s)", client.id, client.name)
    now = datetime.now(UTC)
    if client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION:
        client.last_used_at = now
        session.flush()
    return client
