"""How a partner receives its reports, as admins set it on the partner's page: by email (the
default), or posted to its own case system by Open311 (``open311.outbound``). Every change
goes into the partner's history, with the API key masked.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from safer_streets.admin_console import audit
from safer_streets.admin_console.partners import get_partner
from safer_streets.api import keys
from safer_streets.errors import InvalidInput
from safer_streets.models import (
    AdminAction,
    AdminEntity,
    Category,
    Open311Send,
    Partner,
    PartnerSendMethod,
    SendMethod,
    User,
)
from safer_streets.open311 import outbound

FIELDS = ("send_method", "endpoint", "api_key", "jurisdiction_id", "service_codes", "send_why")
MAX_URL_CHARS = 2048
MAX_KEY_CHARS = 200
MAX_JURISDICTION_CHARS = 200
MAX_SERVICE_CODE_CHARS = 100
MAX_ATTEMPTS = outbound.MAX_ATTEMPTS
_SERVICE_CODE_LINE = re.compile(r"^\s*(?P<slug>[^=\s]+)\s*=\s*(?P<code>.*?)\s*$")


def method_of(session: Session, partner: Partner) -> PartnerSendMethod | None:
    """The partner's send method, or None: it is emailed."""
    return session.get(PartnerSendMethod, partner.id)


def snapshot(method: PartnerSendMethod | None) -> dict[str, Any]:
    """The send method as the history keeps it: the key masked, never in full."""
    if method is None or method.method is SendMethod.EMAIL:
        return {"send_method": SendMethod.EMAIL.value}
    return {
        "send_method": method.method.value,
        "open311_endpoint": method.endpoint,
        "open311_api_key": outbound.masked_key(method.api_key),
        "jurisdiction_id": method.jurisdiction_id,
        "service_codes": format_service_codes(method.service_codes),
    }


def form_from_method(method: PartnerSendMethod | None) -> dict[str, str]:
    """The form's fields for the current method; the key is never put back in the form."""
    if method is None:
        return {"send_method": SendMethod.EMAIL.value}
    return {
        "send_method": method.method.value,
        "endpoint": method.endpoint or "",
        "jurisdiction_id": method.jurisdiction_id or "",
        "service_codes": format_service_codes(method.service_codes),
    }


def format_service_codes(codes: dict[str, str] | None) -> str:
    """'category-slug = CODE' lines, sorted."""
    return "\n".join(f"{slug} = {code}" for slug, code in sorted((codes or {}).items()))


def parse_endpoint(raw: str) -> str:
    """An http or https base URL with a host and no query or fragment, without its trailing
    slash; ``ValueError`` saying what is wrong."""
    text = raw.strip()
    if not text:
        raise ValueError("enter the Open311 address, e.g. https://cases.example.org/open311/v2")
    if len(text) > MAX_URL_CHARS:
        raise ValueError(f"must be at most {MAX_URL_CHARS} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("is not a web address") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must start with https:// (or http://)")
    if not parts.hostname:
        raise ValueError("must name a server, e.g. https://cases.example.org/open311/v2")
    if parts.query or parts.fragment:
        raise ValueError("must be the base address, without ? or # parts")
    if parts.username or parts.password:
        raise ValueError("must not hold a user name or password: give the API key below")
    return text.rstrip("/")


def parse_service_codes(raw: str, known: set[str]) -> dict[str, str]:
    """'category-slug = CODE' lines (blank lines ignored) into a mapping; ``ValueError`` naming
    the first bad line."""
    codes: dict[str, str] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        match = _SERVICE_CODE_LINE.match(line)
        if match is None or not match.group("code"):
            raise ValueError(f"line {number}: write category = service code, e.g. fly-tipping = FT")
        slug, code = match.group("slug"), match.group("code")
        if slug not in known:
            raise ValueError(f"line {number}: there is no category {slug[:60]!r}")
        if len(code) > MAX_SERVICE_CODE_CHARS:
            raise ValueError(
                f"line {number}: a service code is at most {MAX_SERVICE_CODE_CHARS} characters"
            )
        if slug in codes:
            raise ValueError(f"line {number}: {slug} is given twice")
        codes[slug] = code
    return codes


def _parse(
    session: Session, form: dict[str, str], current: PartnerSendMethod | None
) -> tuple[dict[str, Any], str]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        method = SendMethod(str(form.get("send_method", "")).strip())
    except ValueError:
        errors["send_method"] = "choose email or Open311"
        method = None
    values["method"] = method
    if method is SendMethod.OPEN311:
        try:
            values["endpoint"] = parse_endpoint(str(form.get("endpoint", "")))
        except ValueError as bad:
            errors["endpoint"] = str(bad)
        key = str(form.get("api_key", "")).strip()
        if not key and current is not None and current.api_key:
            key = current.api_key  # left empty: keep the key already stored
        if not key:
            errors["api_key"] = "enter the API key the partner's system gave you"
        elif len(key) > MAX_KEY_CHARS or not key.isprintable() or " " in key:
            errors["api_key"] = f"must be at most {MAX_KEY_CHARS} characters, without spaces"
        values["api_key"] = key
        jurisdiction = str(form.get("jurisdiction_id", "")).strip()
        if len(jurisdiction) > MAX_JURISDICTION_CHARS:
            errors["jurisdiction_id"] = f"must be at most {MAX_JURISDICTION_CHARS} characters"
        values["jurisdiction_id"] = jurisdiction or None
        known = set(session.scalars(select(Category.slug)))
        try:
            values["service_codes"] = parse_service_codes(str(form.get("service_codes", "")), known)
        except ValueError as bad:
            errors["service_codes"] = str(bad)
    why_errors: dict[str, str] = {}
    why = audit.why_of({"why": form.get("send_why", "")}, why_errors)
    if "why" in why_errors:
        errors["send_why"] = why_errors["why"]
    if errors:
        raise InvalidInput(dict(sorted(errors.items(), key=lambda item: FIELDS.index(item[0]))))
    return values, why


def set_send_method(
    session: Session, actor: User | None, slug: str, form: dict[str, str], now: datetime
) -> PartnerSendMethod:
    """Choose and configure how the partner receives its reports; kept in its history.

    Switching to Open311 posts the reports routed from now on, not the partner's backlog, and
    gives its case system an API client of its own (whose key nobody holds) under which the
    updates read back from it are made.
    """
    partner = get_partner(session, actor, slug)
    admin = audit.require_admin(actor)
    current = method_of(session, partner)
    values, why = _parse(session, form, current)
    before = snapshot(current)
    old_key = current.api_key if current is not None else None
    row = current or PartnerSendMethod(partner_id=partner.id, service_codes={})
    if values["method"] is SendMethod.OPEN311 and row.method is not SendMethod.OPEN311:
        row.open311_since = now
        row.updates_read_at = None
    row.method = values["method"]
    if row.method is SendMethod.OPEN311:
        row.endpoint = values["endpoint"]
        row.api_key = values["api_key"]
        row.jurisdiction_id = values["jurisdiction_id"]
        row.service_codes = values["service_codes"]
        if row.api_client is None:
            name = f"{partner.name} case system (Open311)"[: keys.MAX_NAME_CHARS]
            row.api_client = keys.create_client(
                session, name=name, partner_slug=partner.slug, actor=admin
            ).client
    else:
        row.api_key = None  # a secret no longer needed is not kept
    after = snapshot(row)
    key_changed = old_key is not None and row.api_key not in (None, old_key)
    if after == before and not key_changed:
        raise InvalidInput({"send_method": "nothing was changed"})
    if key_changed and after.get("open311_api_key") == before.get("open311_api_key"):
        after["open311_api_key"] = f"{after['open311_api_key']} (new key)"
    if current is None:
        session.add(row)
    session.flush()
    audit.record(
        session,
        admin,
        entity=AdminEntity.PARTNER,
        entity_id=partner.id,
        key=partner.slug,
        action=AdminAction.EDITED,
        why=why,
        before=before,
        after=after,
    )
    return row


def unsent(session: Session, actor: User | None, slug: str) -> list[Open311Send]:
    """The partner's reports its case system has not taken yet, with why."""
    partner = get_partner(session, actor, slug)
    return outbound.unsent(session, partner.id)


def retry(session: Session, actor: User | None, slug: str, send_id: int) -> Open311Send:
    """Try an unsent report again now, with all its attempts."""
    partner = get_partner(session, actor, slug)
    return outbound.retry(session, partner.id, send_id)
