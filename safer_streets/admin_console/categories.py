"""Categories as admins edit them: words, group, flags, order, and what the public may see of
their reports (the disclosure settings ``disclosure.policy`` reads). Every change goes into
the history. A category's slug is Open311's service_code, so it never changes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safer_streets.admin_console import audit
from safer_streets.disclosure.policy import (
    Audience,
    Description,
    Location,
    TimePrecision,
    promises,
    rules_for,
)
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import AdminEntity, Category, Report, User

MAX_NAME_CHARS = 200
MAX_GROUP_CHARS = 80
MAX_DESCRIPTION_CHARS = 2000
MAX_POSITION = 10_000
FLAGS = ("sensitive", "emergency_notice", "public", "disclosure_listed")
CATEGORY_FIELDS = (
    "category",
    "name",
    "description",
    "group",
    "position",
    "sensitive",
    "emergency_notice",
    "public",
    "disclosure_listed",
    "disclosure_location",
    "disclosure_time",
    "disclosure_description",
    "confirm_sensitive",
    "why",
)

# What each setting means for the public, worded for the people choosing it.
LOCATION_WORDS = {
    Location.EXACT: "the exact spot the resident chose",
    Location.SNAPPED: "the nearest police.uk street point, never the exact spot",
    Location.WARD: "only the ward",
    Location.NONE: "nothing about where",
}
TIME_WORDS = {
    TimePrecision.EXACT: "the date and time",
    TimePrecision.HOUR: "the date and hour",
    TimePrecision.DAY: "the day, not the time",
    TimePrecision.MONTH: "the month, not the day",
}
DESCRIPTION_WORDS = {
    Description.FULL: "the resident's words as written (unless a partner moderates them)",
    Description.MODERATED: "only a version a partner has checked and published",
    Description.NONE: "none of the resident's words",
}


@dataclass(frozen=True)
class CategoryRow:
    """A category as the list shows it."""

    category: Category
    reports: int
    publicly_listed: bool


def snapshot(category: Category) -> dict[str, Any]:
    """The category as the history keeps it."""
    return {
        "name": category.name,
        "description": category.description,
        "group": category.group,
        "position": category.position,
        "sensitive": category.sensitive,
        "emergency_notice": category.emergency_notice,
        "public": category.public,
        "disclosure_listed": category.disclosure_listed,
        "disclosure_location": category.disclosure_location,
        "disclosure_time": category.disclosure_time,
        "disclosure_description": category.disclosure_description,
    }


def list_categories(session: Session, actor: User | None) -> list[CategoryRow]:
    """Every category in display order, with its number of reports and whether the public
    sees them one by one."""
    audit.require_admin(actor)
    counts = dict(
        session.execute(select(Report.category_id, func.count()).group_by(Report.category_id)).all()
    )
    return [
        CategoryRow(category, counts.get(category.id, 0), _publicly_listed(category))
        for category in session.scalars(select(Category).order_by(Category.position, Category.name))
    ]


def _publicly_listed(category: Category) -> bool:
    return rules_for(category, Audience.PUBLIC).listed


def get_category(session: Session, actor: User | None, slug: str) -> Category:
    audit.require_admin(actor)
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFound(f"no category {slug!r}")
    return category


def groups(session: Session) -> list[str]:
    """The groups in use, for the form to suggest."""
    return list(session.scalars(select(Category.group).distinct().order_by(Category.group)))


def form_from_category(category: Category) -> dict[str, str]:
    values = snapshot(category)
    return {
        key: ("on" if value else "") if key in FLAGS else str(value)
        for key, value in values.items()
    }


def _text(form: dict[str, str], field: str, limit: int, errors: dict[str, str]) -> str:
    value = str(form.get(field, "")).strip()
    if len(value) > limit:
        errors[field] = f"must be at most {limit} characters"
    return value


def _choice(form: dict[str, str], field: str, allowed: type[Any], errors: dict[str, str]) -> str:
    value = str(form.get(field, "")).strip()
    if value not in {member.value for member in allowed}:
        errors[field] = "choose one of the options"
    return value


def parse_category_form(form: dict[str, str]) -> dict[str, Any]:
    """The validated values (without the why and confirmation), or ``InvalidInput``."""
    errors: dict[str, str] = {}
    name = " ".join(_text(form, "name", MAX_NAME_CHARS, errors).split())
    if not name and "name" not in errors:
        errors["name"] = "enter the name residents see"
    group = " ".join(_text(form, "group", MAX_GROUP_CHARS, errors).split())
    if not group and "group" not in errors:
        errors["group"] = "enter the group it is listed under, e.g. Safety"
    description = _text(form, "description", MAX_DESCRIPTION_CHARS, errors)
    raw_position = str(form.get("position", "")).strip()
    position = 0
    if not (raw_position.isascii() and raw_position.isdigit()) or int(raw_position) > MAX_POSITION:
        errors["position"] = f"must be a whole number from 0 to {MAX_POSITION}"
    else:
        position = int(raw_position)
    values: dict[str, Any] = {
        "name": name,
        "description": description,
        "group": group,
        "position": position,
        **{flag: str(form.get(flag, "")).strip() in ("on", "true", "1") for flag in FLAGS},
        "disclosure_location": _choice(form, "disclosure_location", Location, errors),
        "disclosure_time": _choice(form, "disclosure_time", TimePrecision, errors),
        "disclosure_description": _choice(form, "disclosure_description", Description, errors),
    }
    if errors:
        raise InvalidInput(errors)
    return values


def preview(category: Category, values: dict[str, Any]) -> Category:
    """A copy of the category with the proposed values, never added to the session: what
    ``disclosure.policy`` would answer once they are saved."""
    return Category(slug=category.slug, **{**snapshot(category), **values})


def public_words(category: Category) -> list[str]:
    """What the public sees of the category's reports, in plain words, and why when nothing."""
    words = promises(category)
    if category.sensitive and category.disclosure_listed:
        words = [
            "It is marked sensitive, so the public never sees its reports one by one, whatever"
            " the settings below say.",
            *words,
        ]
    elif not category.public and category.disclosure_listed:
        words = [
            "It is not offered to the public, so its reports are not shown one by one.",
            *words,
        ]
    return words


def needs_confirmation(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """A sensitive category being made listed or exact (or a listed or exact one being made
    sensitive): one untick of "sensitive" away from showing where harassment happened."""
    exposing = after["disclosure_listed"] or after["disclosure_location"] == Location.EXACT
    if not (after["sensitive"] and exposing):
        return False
    keys = ("sensitive", "disclosure_listed", "disclosure_location")
    return any(before[key] != after[key] for key in keys)


def check_category_form(category: Category, form: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Everything the form asks for, checked against the category as it stands."""
    errors: dict[str, str] = {}
    try:
        values = parse_category_form(form)
    except InvalidInput as invalid:
        errors.update(invalid.field_errors)
        values = {}
    why = audit.why_of(form, errors)
    if values:
        confirmed = str(form.get("confirm_sensitive", "")).strip() in ("on", "true", "1")
        if needs_confirmation(snapshot(category), values) and not confirmed:
            errors["confirm_sensitive"] = (
                "this category is sensitive: tick the box to confirm it may be listed or shown"
                " at the exact spot"
            )
    if errors:
        raise InvalidInput(_ordered(errors))
    return values, why


def _ordered(errors: dict[str, str]) -> dict[str, str]:
    return dict(
        sorted(
            errors.items(),
            key=lambda item: CATEGORY_FIELDS.index(item[0]) if item[0] in CATEGORY_FIELDS else -1,
        )
    )


def edit_category(
    session: Session, actor: User | None, slug: str, form: dict[str, str]
) -> Category:
    """Save the form's values and keep the change, with its why, in the history."""
    category = get_category(session, actor, slug)
    values, why = check_category_form(category, form)
    return audit.apply_edit(
        session,
        actor,
        category,
        values,
        why,
        entity=AdminEntity.CATEGORY,
        key=category.slug,
        snapshot=snapshot,
    )
