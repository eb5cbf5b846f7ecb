"""Partners as admins edit them: name, kind, the address new reports are emailed to, default
service levels and per-category service levels. Every change goes into the history.

A partner's slug is made once from its name and never changes: API keys, Open311 clients and
exports name partners by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from safer_streets.admin_console import audit
from safer_streets.casework.sla import MAX_HOURS
from safer_streets.data.seed import slugify
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import (
    AdminAction,
    AdminEntity,
    Category,
    Partner,
    PartnerSla,
    RoutingRule,
    User,
)

KINDS = ("council", "police", "transport", "housing", "fire", "other")
MAX_NAME_CHARS = 200
MAX_SLUG_CHARS = 80
MAX_EMAILS_CHARS = 254
PARTNER_FIELDS = ("name", "kind", "email", "hours_to_acknowledge", "hours_to_resolve", "why")
# Paths under /admin/partners/ that a slug must not shadow.
RESERVED_SLUGS = frozenset({"new"})
SLA_FIELDS = ("sla_category", "sla_hours_to_acknowledge", "sla_hours_to_resolve", "sla_why")


@dataclass(frozen=True)
class PartnerRow:
    """A partner as the list shows it."""

    partner: Partner
    service_levels: int
    rules: int


def slug_for(name: str) -> str:
    """'Met SNT: Rushey Green' -> 'met-snt-rushey-green'."""
    return slugify(name)[:MAX_SLUG_CHARS].strip("-")


def snapshot(partner: Partner) -> dict[str, Any]:
    """The partner as the history keeps it."""
    return {
        "name": partner.name,
        "kind": partner.kind,
        "email": partner.email,
        "hours_to_acknowledge": partner.hours_to_acknowledge,
        "hours_to_resolve": partner.hours_to_resolve,
    }


def sla_snapshot(row: PartnerSla) -> dict[str, Any]:
    return {
        "hours_to_acknowledge": row.hours_to_acknowledge,
        "hours_to_resolve": row.hours_to_resolve,
    }


def list_partners(session: Session, actor: User | None) -> list[PartnerRow]:
    """Every partner by name, with how many service levels and active rules it has."""
    audit.require_admin(actor)
    slas = (
        select(PartnerSla.partner_id, func.count().label("n"))
        .group_by(PartnerSla.partner_id)
        .subquery()
    )
    rules = (
        select(RoutingRule.partner_id, func.count().label("n"))
        .where(RoutingRule.active)
        .group_by(RoutingRule.partner_id)
        .subquery()
    )
    rows = session.execute(
        select(Partner, func.coalesce(slas.c.n, 0), func.coalesce(rules.c.n, 0))
        .outerjoin(slas, slas.c.partner_id == Partner.id)
        .outerjoin(rules, rules.c.partner_id == Partner.id)
        .order_by(Partner.name)
    )
    return [PartnerRow(partner, n_slas, n_rules) for partner, n_slas, n_rules in rows]


def get_partner(session: Session, actor: User | None, slug: str) -> Partner:
    audit.require_admin(actor)
    partner = session.scalar(select(Partner).where(Partner.slug == slug))
    if partner is None:
        raise NotFound(f"no partner {slug!r}")
    return partner


def service_levels(session: Session, partner: Partner) -> list[PartnerSla]:
    """The partner's own per-category service levels, in the categories' order."""
    return list(
        session.scalars(
            select(PartnerSla)
            .join(Category)
            .options(joinedload(PartnerSla.category))
            .where(PartnerSla.partner_id == partner.id)
            .order_by(Category.position, Category.name)
        )
    )


def form_from_partner(partner: Partner) -> dict[str, str]:
    return {
        "name": partner.name,
        "kind": partner.kind,
        "email": partner.email or "",
        "hours_to_acknowledge": _text(partner.hours_to_acknowledge),
        "hours_to_resolve": _text(partner.hours_to_resolve),
    }


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _hours(
    form: dict[str, str], field: str, errors: dict[str, str], *, required: bool
) -> int | None:
    raw = str(form.get(field, "")).strip()
    if not raw:
        if required:
            errors[field] = "enter a number of hours"
        return None
    if not (raw.isascii() and raw.isdigit()):
        errors[field] = "must be a whole number of hours, e.g. 48"
        return None
    value = int(raw)
    if not 1 <= value <= MAX_HOURS:
        errors[field] = f"must be between 1 and {MAX_HOURS} hours (a year)"
        return None
    return value


def parse_hours_pair(
    form: dict[str, str],
    acknowledge_field: str,
    resolve_field: str,
    errors: dict[str, str],
    *,
    required: bool,
) -> tuple[int | None, int | None]:
    """Hours to acknowledge and to resolve, as the database's check wants them: acknowledging
    takes at least an hour, and resolving takes no less than acknowledging."""
    acknowledge = _hours(form, acknowledge_field, errors, required=required)
    resolve = _hours(form, resolve_field, errors, required=required)
    if acknowledge is not None and resolve is not None and resolve < acknowledge:
        errors[resolve_field] = (
            f"must be at least the hours to acknowledge ({acknowledge}): a report cannot be "
            "resolved before it is acknowledged"
        )
    return acknowledge, resolve


def parse_emails(raw: str, errors: dict[str, str]) -> str | None:
    """The addresses new-report emails go to, as one "a@x, b@y" To header, or None for none.

    One column holds them (``Partner.email``): the outbox puts it in the To header, and mail
    goes to every address there.
    """
    addresses: list[str] = []
    for part in re.split(r"[,;\s]+", raw.strip()):
        if not part:
            continue
        try:
            address = validate_email(part, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["email"] = (
                f"{part[:60]!r} is not an email address: give addresses like "
                "team@lewisham.example, separated by commas, or leave it empty"
            )
            return None
        if address.lower() not in {known.lower() for known in addresses}:
            addresses.append(address)
    joined = ", ".join(addresses)
    if len(joined) > MAX_EMAILS_CHARS:
        errors["email"] = f"must be at most {MAX_EMAILS_CHARS} characters in all"
        return None
    return joined or None


def kinds(session: Session) -> list[str]:
    """The kinds a partner may be: the usual ones and any the partners already have."""
    used = session.scalars(select(Partner.kind).distinct())
    return sorted(set(KINDS) | set(used))


def _parse_partner_form(session: Session, form: dict[str, str]) -> tuple[dict[str, Any], str]:
    errors: dict[str, str] = {}
    name = " ".join(str(form.get("name", "")).split())
    if not name:
        errors["name"] = "enter the partner's name"
    elif len(name) > MAX_NAME_CHARS:
        errors["name"] = f"must be at most {MAX_NAME_CHARS} characters"
    elif not slug_for(name):
        errors["name"] = "must contain letters or digits"
    kind = str(form.get("kind", "")).strip()
    if kind not in kinds(session):
        errors["kind"] = "choose what kind of organisation it is"
    email = parse_emails(str(form.get("email", "")), errors)
    acknowledge, resolve = parse_hours_pair(
        form, "hours_to_acknowledge", "hours_to_resolve", errors, required=False
    )
    if (acknowledge is None) != (resolve is None) and not (
        {"hours_to_acknowledge", "hours_to_resolve"} & set(errors)
    ):
        missing = "hours_to_resolve" if resolve is None else "hours_to_acknowledge"
        errors[missing] = "give both hours, or neither for no default service level"
    why = audit.why_of(form, errors)
    if errors:
        raise InvalidInput(_ordered(errors, PARTNER_FIELDS))
    values = {
        "name": name,
        "kind": kind,
        "email": email,
        "hours_to_acknowledge": acknowledge,
        "hours_to_resolve": resolve,
    }
    return values, why


def _ordered(errors: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    """Errors in the order the form shows the fields, so the summary reads top to bottom."""
    return dict(
        sorted(errors.items(), key=lambda item: fields.index(item[0]) if item[0] in fields else -1)
    )


def _unique_slug(session: Session, name: str) -> str:
    base = slug_for(name)
    taken = RESERVED_SLUGS | set(
        session.scalars(select(Partner.slug).where(Partner.slug.startswith(base, autoescape=True)))
    )
    slug, number = base, 2
    while slug in taken:
        suffix = f"-{number}"
        slug = base[: MAX_SLUG_CHARS - len(suffix)] + suffix
        number += 1
    return slug


def create_partner(session: Session, actor: User | None, form: dict[str, str]) -> Partner:
    """A new partner, its slug made from its name (another number added if it is taken)."""
    actor = audit.require_admin(actor)
    values, why = _parse_partner_form(session, form)
    partner = Partner(slug=_unique_slug(session, values["name"]), **values)
    try:
        with session.begin_nested():
            session.add(partner)
    except IntegrityError:
        # Another admin took the slug between the check and the insert.
        raise InvalidInput(
            {"name": "a partner with this name was added just now: try again"}
        ) from None
    audit.record(
        session,
        actor,
        entity=AdminEntity.PARTNER,
        entity_id=partner.id,
        key=partner.slug,
        action=AdminAction.CREATED,
        why=why,
        before=None,
        after={"slug": partner.slug, **snapshot(partner)},
    )
    return partner


def edit_partner(session: Session, actor: User | None, slug: str, form: dict[str, str]) -> Partner:
    """Change a partner's name, kind, email or default service levels; never its slug."""
    partner = get_partner(session, actor, slug)
    values, why = _parse_partner_form(session, form)
    return audit.apply_edit(
        session,
        actor,
        partner,
        values,
        why,
        entity=AdminEntity.PARTNER,
        key=partner.slug,
        snapshot=snapshot,
    )


def set_service_level(
    session: Session, actor: User | None, slug: str, form: dict[str, str]
) -> PartnerSla:
    """Add or change the partner's service level for one category. Reports already routed keep
    the due times they were given."""
    partner = get_partner(session, actor, slug)
    errors: dict[str, str] = {}
    category_slug = str(form.get("sla_category", "")).strip()
    category = (
        session.scalar(select(Category).where(Category.slug == category_slug))
        if category_slug
        else None
    )
    if category is None:
        errors["sla_category"] = (
            f"unknown category {category_slug!r}" if category_slug else "choose a category"
        )
    acknowledge, resolve = parse_hours_pair(
        form, "sla_hours_to_acknowledge", "sla_hours_to_resolve", errors, required=True
    )
    sla_errors: dict[str, str] = {}
    why = audit.why_of({"why": form.get("sla_why", "")}, sla_errors)
    if "why" in sla_errors:
        errors["sla_why"] = sla_errors["why"]
    if errors or category is None:
        raise InvalidInput(_ordered(errors, SLA_FIELDS))
    row = session.scalar(
        select(PartnerSla).where(
            PartnerSla.partner_id == partner.id, PartnerSla.category_id == category.id
        )
    )
    before = sla_snapshot(row) if row is not None else None
    if row is None:
        row = PartnerSla(partner_id=partner.id, category_id=category.id)
        session.add(row)
    row.hours_to_acknowledge = acknowledge
    row.hours_to_resolve = resolve
    if before == sla_snapshot(row):
        raise InvalidInput({"sla_category": f"{category.name} already has these hours"})
    session.flush()
    audit.record(
        session,
        audit.require_admin(actor),
        entity=AdminEntity.PARTNER_SLA,
        entity_id=row.id,
        key=f"{partner.slug}/{category.slug}",
        action=AdminAction.CREATED if before is None else AdminAction.EDITED,
        why=why,
        before=before,
        after=sla_snapshot(row),
    )
    return row


def remove_service_level(
    session: Session, actor: User | None, slug: str, category_slug: str, why: str
) -> None:
    """Drop a per-category service level: the partner's defaults apply to new reports again."""
    partner = get_partner(session, actor, slug)
    row = session.scalar(
        select(PartnerSla)
        .join(Category)
        .where(PartnerSla.partner_id == partner.id, Category.slug == category_slug)
    )
    if row is None:
        raise NotFound(f"{partner.name} has no service level of its own for {category_slug!r}")
    errors: dict[str, str] = {}
    reason = audit.why_of({"why": why}, errors)
    if errors:
        raise InvalidInput({f"remove_why_{category_slug}": errors["why"]})
    before = sla_snapshot(row)
    row_id = row.id
    session.delete(row)
    session.flush()
    audit.record(
        session,
        audit.require_admin(actor),
        entity=AdminEntity.PARTNER_SLA,
        entity_id=row_id,
        key=f"{partner.slug}/{category_slug}",
        action=AdminAction.REMOVED,
        why=reason,
        before=before,
        after=None,
    )
