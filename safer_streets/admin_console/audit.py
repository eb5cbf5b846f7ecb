"""One history for the console: who changed what, when, why, and the fields before and after.

Like the routing table's history (``routing.rules``), every change needs a why; unlike it,
only the fields that changed are kept, and rows outlive what they describe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from safer_streets.errors import InvalidInput, NotAllowed
from safer_streets.models import AdminAction, AdminChange, AdminEntity, Role, User

MAX_WHY_CHARS = 1000
T = TypeVar("T")

ENTITY_WORDS = {
    AdminEntity.PARTNER: "Partner",
    AdminEntity.PARTNER_SLA: "Service level",
    AdminEntity.CATEGORY: "Category",
    AdminEntity.AREA: "Named area",
    AdminEntity.REASON: "Reason",
}


def require_admin(actor: User | None) -> User:
    """Only system administrators use the console; partner admins have their own pages."""
    if actor is None or not actor.active or actor.role is not Role.ADMIN:
        raise NotAllowed("only an administrator can change partners, categories and areas")
    return actor


def why_of(form: dict[str, str], errors: dict[str, str]) -> str:
    """The required reason, whitespace tidied; an error recorded when missing or too long."""
    why = " ".join(str(form.get("why", "")).split())
    if not why:
        errors["why"] = "say why: it is kept in the history with your name"
    elif len(why) > MAX_WHY_CHARS:
        errors["why"] = f"must be at most {MAX_WHY_CHARS} characters"
    return why


def changed_fields(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Only the fields that differ; a creation or removal keeps the whole of its side."""
    if before is None or after is None:
        return before, after
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after.get(key) for key in keys}


def record(
    session: Session,
    actor: User,
    *,
    entity: AdminEntity,
    entity_id: int | None,
    key: str,
    action: AdminAction,
    why: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AdminChange:
    """Keep one change; the caller has applied it in the same transaction."""
    kept_before, kept_after = changed_fields(before, after)
    change = AdminChange(
        actor_id=actor.id,
        entity=entity,
        entity_id=entity_id,
        entity_key=key,
        action=action,
        why=why,
        before=kept_before,
        after=kept_after,
    )
    session.add(change)
    session.flush()
    return change


def apply_edit(
    session: Session,
    actor: User | None,
    target: T,
    values: dict[str, Any],
    why: str,
    *,
    entity: AdminEntity,
    key: str,
    snapshot: Callable[[T], dict[str, Any]],
) -> T:
    """Set ``values`` on ``target`` and keep the change with its why; an edit that changes
    nothing is refused rather than written to the history."""
    before = snapshot(target)
    for field, value in values.items():
        setattr(target, field, value)
    after = snapshot(target)
    if after == before:
        raise InvalidInput({entity.value: "nothing was changed"})
    session.flush()
    record(
        session,
        require_admin(actor),
        entity=entity,
        entity_id=getattr(target, "id", None),
        key=key,
        action=AdminAction.EDITED,
        why=why,
        before=before,
        after=after,
    )
    return target


def describe(change: AdminChange) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each field the change touched, in the order it was saved."""
    before = change.before or {}
    after = change.after or {}
    keys = list(after) + [key for key in before if key not in after]
    return [(key.replace("_", " ").capitalize(), before.get(key), after.get(key)) for key in keys]


def history(
    session: Session,
    actor: User | None,
    *,
    entity: AdminEntity | None = None,
    key: str | None = None,
    entity_id: int | None = None,
    limit: int = 200,
) -> list[AdminChange]:
    """Changes, newest first: all, one kind, or one thing (by key, or by row for a reason, whose
    key may change until it is used). A partner's history includes its service levels, whose
    keys start with the partner's slug."""
    require_admin(actor)
    query = (
        select(AdminChange)
        .options(joinedload(AdminChange.actor))
        .order_by(AdminChange.at.desc(), AdminChange.id.desc())
        .limit(limit)
    )
    if entity is AdminEntity.PARTNER and key is not None:
        query = query.where(
            or_(
                (AdminChange.entity == AdminEntity.PARTNER) & (AdminChange.entity_key == key),
                (AdminChange.entity == AdminEntity.PARTNER_SLA)
                & AdminChange.entity_key.startswith(f"{key}/", autoescape=True),
            )
        )
    else:
        if entity is not None:
            query = query.where(AdminChange.entity == entity)
        if key is not None:
            query = query.where(AdminChange.entity_key == key)
        if entity_id is not None:
            query = query.where(AdminChange.entity_id == entity_id)
    return list(session.scalars(query))
