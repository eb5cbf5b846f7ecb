"""Named areas (town centres, estates, transport hubs) as admins manage them: upload an outline
to add or replace one, remove one nothing depends on. Every change goes into the history.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safer_streets.admin_console import audit
from safer_streets.admin_console.outlines import describe, parse_outline
from safer_streets.data.seed import slugify
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import (
    SRID,
    AdminAction,
    AdminEntity,
    AlertSubscription,
    Area,
    RoutingRule,
    User,
)

KINDS = {
    "town-centre": "Town centre",
    "estate": "Estate",
    "transport-hub": "Transport hub",
    "park": "Park or open space",
    "other": "Other",
}
MAX_NAME_CHARS = 200
MAX_SLUG_CHARS = 100
AREA_FIELDS = ("area", "replace", "name", "kind", "file", "why")


@dataclass(frozen=True)
class AreaRow:
    """An area as the list shows it."""

    area: Area
    rules: int
    alerts: int


def slug_for(name: str) -> str:
    return slugify(name)[:MAX_SLUG_CHARS].strip("-")


def snapshot(area: Area, outline: BaseGeometry | None = None) -> dict[str, Any]:
    """The area as the history keeps it: the outline summarised with a fingerprint, so that a
    replaced outline shows as changed without storing every point twice."""
    shape = outline if outline is not None else to_shape(area.geom)
    return {
        "name": area.name,
        "kind": area.kind,
        "outline": f"{describe(shape)}; fingerprint {hashlib.sha256(shape.wkb).hexdigest()[:12]}",
    }


def _uses(session: Session) -> tuple[dict[int, int], dict[int, int]]:
    rules = dict(
        session.execute(
            select(RoutingRule.area_id, func.count())
            .where(RoutingRule.area_id.is_not(None))
            .group_by(RoutingRule.area_id)
        ).all()
    )
    alerts = dict(
        session.execute(
            select(AlertSubscription.area_id, func.count())
            .where(AlertSubscription.area_id.is_not(None))
            .group_by(AlertSubscription.area_id)
        ).all()
    )
    return rules, alerts


def list_areas(session: Session, actor: User | None) -> list[AreaRow]:
    """Every named area by name, with how many routing rules and alerts use it."""
    audit.require_admin(actor)
    rules, alerts = _uses(session)
    return [
        AreaRow(area, rules.get(area.id, 0), alerts.get(area.id, 0))
        for area in session.scalars(select(Area).order_by(Area.name))
    ]


def outlines(session: Session, actor: User | None) -> dict[str, Any]:
    """Every area's outline as a GeoJSON FeatureCollection, for the list's map previews."""
    audit.require_admin(actor)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"slug": area.slug, "name": area.name, "kind": area.kind},
                "geometry": mapping(to_shape(area.geom)),
            }
            for area in session.scalars(select(Area).order_by(Area.name))
        ],
    }


def get_area(session: Session, actor: User | None, slug: str) -> Area:
    audit.require_admin(actor)
    area = session.scalar(select(Area).where(Area.slug == slug))
    if area is None:
        raise NotFound(f"no area {slug!r}")
    return area


def save_area(
    session: Session,
    actor: User | None,
    form: dict[str, str],
    upload: bytes | None,
    borough: BaseGeometry,
) -> tuple[Area, AdminAction]:
    """Add an area from an uploaded outline, or replace an existing area's outline (and its
    name and kind). Routing rules and alerts that name the area follow the new outline."""
    actor = audit.require_admin(actor)
    errors: dict[str, str] = {}
    replacing = str(form.get("replace", "")).strip()
    area = session.scalar(select(Area).where(Area.slug == replacing)) if replacing else None
    if replacing and area is None:
        errors["replace"] = f"unknown area {replacing!r}"
    name = " ".join(str(form.get("name", "")).split())
    if not name and area is not None:
        name = area.name
    if not name:
        errors["name"] = "enter the area's name, e.g. Deptford High Street"
    elif len(name) > MAX_NAME_CHARS:
        errors["name"] = f"must be at most {MAX_NAME_CHARS} characters"
    elif not slug_for(name):
        errors["name"] = "must contain letters or digits"
    elif area is None and not replacing:
        twin = session.scalar(select(Area).where(Area.slug == slug_for(name)))
        if twin is not None:
            errors["name"] = (
                f"an area called {twin.name} exists already: choose it under “Replace” to "
                "give it a new outline, or use another name"
            )
    kind = str(form.get("kind", "")).strip() or (area.kind if area is not None else "")
    if kind not in KINDS:
        errors["kind"] = "choose what kind of area it is"
    outline = None
    if not upload:
        errors["file"] = "choose a GeoJSON file with the area's outline"
    else:
        try:
            outline = parse_outline(upload, borough)
        except InvalidInput as refused:
            errors.update(refused.field_errors)
    why = audit.why_of(form, errors)
    if errors or outline is None:
        raise InvalidInput(
            dict(sorted(errors.items(), key=lambda item: AREA_FIELDS.index(item[0])))
        )
    before = snapshot(area) if area is not None else None
    action = AdminAction.EDITED if area is not None else AdminAction.CREATED
    if area is None:
        area = Area(slug=slug_for(name))
    area.name = name
    area.kind = kind
    area.geom = from_shape(outline, srid=SRID)
    try:
        with session.begin_nested():
            session.add(area)
    except IntegrityError:
        # Another admin added an area of the same name between the check and the insert.
        raise InvalidInput({"name": "an area with this name was added just now"}) from None
    after = snapshot(area, outline)
    if before == after:
        raise InvalidInput({"file": "this is the outline, name and kind the area has already"})
    audit.record(
        session,
        actor,
        entity=AdminEntity.AREA,
        entity_id=area.id,
        key=area.slug,
        action=action,
        why=why,
        before=before,
        after=after if before is not None else {"slug": area.slug, **after},
    )
    return area, action


def remove_area(session: Session, actor: User | None, slug: str, why: str) -> Area:
    """Remove an area nothing uses; a rule or an alert that names it keeps it."""
    area = get_area(session, actor, slug)
    errors: dict[str, str] = {}
    reason = audit.why_of({"why": why}, errors)
    rules = session.scalars(select(RoutingRule.id).where(RoutingRule.area_id == area.id)).all()
    alerts = session.scalar(
        select(func.count())
        .select_from(AlertSubscription)
        .where(AlertSubscription.area_id == area.id)
    )
    if rules:
        listed = ", ".join(str(rule_id) for rule_id in rules[:10])
        errors["area"] = (
            f"{area.name} cannot be removed: routing rule{'s' if len(rules) > 1 else ''} "
            f"{listed} use{'' if len(rules) > 1 else 's'} it (inactive rules too, as reports' "
            "routing history names them). Change those rules first, or replace the outline."
        )
    elif alerts:
        errors["area"] = (
            f"{area.name} cannot be removed: {alerts} resident alert"
            f"{'s' if alerts > 1 else ''} follow{'' if alerts > 1 else 's'} it. Replace the "
            "outline instead."
        )
    if errors:
        raise InvalidInput({f"remove_{key}": message for key, message in errors.items()})
    before = snapshot(area)
    area_id = area.id
    session.delete(area)
    session.flush()
    audit.record(
        session,
        audit.require_admin(actor),
        entity=AdminEntity.AREA,
        entity_id=area_id,
        key=slug,
        action=AdminAction.REMOVED,
        why=reason,
        before=before,
        after=None,
    )
    return area
