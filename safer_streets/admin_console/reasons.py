"""Reasons as admins edit them: the answers residents may tick for a category ("badly lit", "I
was followed"), their words, help text and order, and whether they are still offered. Every
change goes into the history.

A reason's key is stored on reports, on supporters' rows and in routing rules: once any of them
names it, it never changes. A reason is retired rather than removed, so that old reports, the
board's tallies and rules keep its label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from safer_streets import taxonomy
from safer_streets.admin_console import audit
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import (
    AdminAction,
    AdminEntity,
    Category,
    CategoryReason,
    Report,
    ReportSupport,
    RoutingRule,
    User,
)

# As wide as the columns that store keys (``Report.reasons``, ``RoutingRule.reason``).
MAX_KEY_CHARS = 40
MAX_LABEL_CHARS = 200
MAX_HELP_CHARS = 500
MAX_POSITION = 10_000
KEY_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
REASON_FIELDS = ("category", "key", "label", "help", "position", "why")


@dataclass(frozen=True)
class Use:
    """What names a reason's key: reports, supporters and routing rules (active or not)."""

    reports: int = 0
    supporters: int = 0
    rules: int = 0
    active_rules: int = 0

    @property
    def used(self) -> bool:
        """Whether anything names the key, which then never changes."""
        return bool(self.reports or self.supporters or self.rules)


@dataclass(frozen=True)
class CategoryReasons:
    """One category's reasons, as the list shows them."""

    category: Category
    reasons: list[tuple[CategoryReason, Use]]


def entity_key(reason: CategoryReason) -> str:
    """How the history names a reason: ``category/key``."""
    return f"{reason.category.slug}/{reason.key}"


def snapshot(reason: CategoryReason) -> dict[str, Any]:
    """The reason as the history keeps it."""
    return {
        "key": reason.key,
        "label": reason.label,
        "help": reason.help,
        "position": reason.position,
        "retired": reason.retired,
    }


def _uses(session: Session, category_id: int | None = None) -> dict[tuple[int, str], Use]:
    """How many reports, supporters and rules name each (category id, key)."""
    reports = (
        select(Report.category_id, func.unnest(Report.reasons).label("key"))
        .where(Report.reasons != [])
        .subquery()
    )
    supporters = (
        select(Report.category_id, func.unnest(ReportSupport.reasons).label("key"))
        .join(Report, Report.id == ReportSupport.report_id)
        .where(ReportSupport.reasons != [])
        .subquery()
    )
    counts: dict[tuple[int, str], dict[str, int]] = {}

    def add(name: str, rows: Any) -> None:
        for found_category, key, n in rows:
            counts.setdefault((found_category, key), {})[name] = n

    for name, found in (("reports", reports), ("supporters", supporters)):
        query = select(found.c.category_id, found.c.key, func.count()).group_by(
            found.c.category_id, found.c.key
        )
        if category_id is not None:
            query = query.where(found.c.category_id == category_id)
        add(name, session.execute(query))
    rules = select(
        RoutingRule.category_id,
        RoutingRule.reason,
        func.count(),
        func.count().filter(RoutingRule.active),
    ).where(RoutingRule.reason.is_not(None))
    if category_id is not None:
        rules = rules.where(RoutingRule.category_id == category_id)
    for found_category, key, n, active in session.execute(
        rules.group_by(RoutingRule.category_id, RoutingRule.reason)
    ):
        counts.setdefault((found_category, key), {}).update(rules=n, active_rules=active)
    return {found: Use(**numbers) for found, numbers in counts.items()}


def list_reasons(session: Session, actor: User | None) -> list[CategoryReasons]:
    """Every category in display order with its reasons (offered first, then retired) and
    what uses each."""
    audit.require_admin(actor)
    uses = _uses(session)
    by_category: dict[int, list[CategoryReason]] = {}
    for reason in session.scalars(
        select(CategoryReason).order_by(
            CategoryReason.retired, CategoryReason.position, CategoryReason.key
        )
    ):
        by_category.setdefault(reason.category_id, []).append(reason)
    return [
        CategoryReasons(
            category,
            [(r, uses.get((category.id, r.key), Use())) for r in by_category.get(category.id, [])],
        )
        for category in session.scalars(select(Category).order_by(Category.position, Category.name))
    ]


def get_reason(
    session: Session, actor: User | None, category_slug: str, key: str
) -> CategoryReason:
    """One reason by its category's slug and its key, or ``NotFound``."""
    audit.require_admin(actor)
    reason = session.scalar(
        select(CategoryReason)
        .join(Category, Category.id == CategoryReason.category_id)
        .options(joinedload(CategoryReason.category))
        .where(Category.slug == category_slug, CategoryReason.key == key)
    )
    if reason is None:
        raise NotFound(f"no reason {key!r} for category {category_slug!r}")
    return reason


def use_of(session: Session, reason: CategoryReason) -> Use:
    """What names this reason's key."""
    return _uses(session, reason.category_id).get((reason.category_id, reason.key), Use())


def form_from_reason(reason: CategoryReason) -> dict[str, str]:
    """A reason as the values of its edit form."""
    return {
        "key": reason.key,
        "label": reason.label,
        "help": reason.help,
        "position": str(reason.position),
    }


def read_form(
    form: dict[str, str], *, with_key: bool, default_position: int
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values a reason's form gives (the key only ``with_key``) and what is wrong with
    them, by field: words tidied, an empty order meaning ``default_position``."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if with_key:
        key = str(form.get("key", "")).strip()
        if not key:
            errors["key"] = "enter a key, e.g. poor-sightlines"
        elif len(key) > MAX_KEY_CHARS:
            errors["key"] = f"must be at most {MAX_KEY_CHARS} characters"
        elif not KEY_PATTERN.fullmatch(key):
            errors["key"] = (
                "use lower-case letters, digits and single hyphens between words,"
                " e.g. poor-sightlines"
            )
        values["key"] = key
    label = " ".join(str(form.get("label", "")).split())
    if not label:
        errors["label"] = "enter the words residents see beside the tick box"
    elif len(label) > MAX_LABEL_CHARS:
        errors["label"] = f"must be at most {MAX_LABEL_CHARS} characters"
    help_text = " ".join(str(form.get("help", "")).split())
    if len(help_text) > MAX_HELP_CHARS:
        errors["help"] = f"must be at most {MAX_HELP_CHARS} characters"
    raw_position = str(form.get("position", "")).strip()
    position = default_position
    if raw_position:
        whole = raw_position.isascii() and raw_position.isdigit()
        if not whole or int(raw_position) > MAX_POSITION:
            errors["position"] = f"must be a whole number from 0 to {MAX_POSITION}"
        else:
            position = int(raw_position)
    values.update(label=label, help=help_text, position=position)
    return values, errors


def _ordered(errors: dict[str, str]) -> dict[str, str]:
    return dict(
        sorted(
            errors.items(),
            key=lambda item: REASON_FIELDS.index(item[0]) if item[0] in REASON_FIELDS else -1,
        )
    )


def _taken(session: Session, category: Category, key: str) -> bool:
    found = select(CategoryReason.id).where(
        CategoryReason.category_id == category.id, CategoryReason.key == key
    )
    return session.scalar(found) is not None


def _next_position(session: Session, category: Category) -> int:
    last = session.scalar(
        select(func.max(CategoryReason.position)).where(CategoryReason.category_id == category.id)
    )
    return 0 if last is None else min(last + 1, MAX_POSITION)


def create_reason(session: Session, actor: User | None, form: dict[str, str]) -> CategoryReason:
    """Offer a new reason for a category; without an order it comes after the others."""
    actor = audit.require_admin(actor)
    slug = str(form.get("category", "")).strip()
    category = session.scalar(select(Category).where(Category.slug == slug)) if slug else None
    values, errors = read_form(
        form,
        with_key=True,
        default_position=_next_position(session, category) if category is not None else 0,
    )
    key = values.pop("key")
    if category is None:
        errors["category"] = f"unknown category {slug!r}" if slug else "choose a category"
    if category is not None and "key" not in errors and _taken(session, category, key):
        errors["key"] = f"{category.name} already has a reason with the key {key!r}"
    why = audit.why_of(form, errors)
    if errors:
        raise InvalidInput(_ordered(errors))
    assert category is not None
    reason = CategoryReason(category=category, key=key, **values)
    try:
        with session.begin_nested():
            session.add(reason)
    except IntegrityError:
        # Another admin added the same key between the check and the insert.
        raise InvalidInput(
            {"key": f"{category.name} already has a reason with the key {key!r}"}
        ) from None
    audit.record(
        session,
        actor,
        entity=AdminEntity.REASON,
        entity_id=reason.id,
        key=entity_key(reason),
        action=AdminAction.CREATED,
        why=why,
        before=None,
        after={"category": category.slug, **snapshot(reason)},
    )
    taxonomy.forget(session)
    return reason


def edit_reason(
    session: Session, actor: User | None, category_slug: str, key: str, form: dict[str, str]
) -> CategoryReason:
    """Change a reason's words, help text or order; its key too while nothing names it."""
    reason = get_reason(session, actor, category_slug, key)
    values, errors = read_form(form, with_key="key" in form, default_position=reason.position)
    new_key = values.pop("key", reason.key)
    if "key" not in errors and new_key != reason.key:
        use = use_of(session, reason)
        if use.used:
            errors["key"] = (
                f"the key {reason.key!r} is in use ({use_words(use)}) and can no longer change"
            )
        elif _taken(session, reason.category, new_key):
            errors["key"] = f"{reason.category.name} already has a reason with the key {new_key!r}"
        else:
            values["key"] = new_key
    why = audit.why_of(form, errors)
    if errors:
        raise InvalidInput(_ordered(errors))
    edited = audit.apply_edit(
        session,
        actor,
        reason,
        values,
        why,
        entity=AdminEntity.REASON,
        key=entity_key(reason),
        snapshot=snapshot,
    )
    taxonomy.forget(session)
    return edited


def set_retired(
    session: Session,
    actor: User | None,
    category_slug: str,
    key: str,
    *,
    retired: bool,
    why: str,
) -> CategoryReason:
    """Stop offering a reason to residents, or offer it again. Reports that gave it keep it."""
    reason = get_reason(session, actor, category_slug, key)
    errors: dict[str, str] = {}
    why = audit.why_of({"why": why}, errors)
    if reason.retired == retired:
        errors["retired"] = "it is already retired" if retired else "it is already offered"
    if errors:
        raise InvalidInput(errors)
    before = snapshot(reason)
    reason.retired = retired
    session.flush()
    audit.record(
        session,
        audit.require_admin(actor),
        entity=AdminEntity.REASON,
        entity_id=reason.id,
        key=entity_key(reason),
        action=AdminAction.RETIRED if retired else AdminAction.RESTORED,
        why=why,
        before=before,
        after=snapshot(reason),
    )
    taxonomy.forget(session)
    return reason


def use_words(use: Use) -> str:
    """What names a reason, in words ("3 reports, 1 routing rule"); "nothing yet" when unused."""
    parts = [
        f"{n} {word if n == 1 else word + 's'}"
        for n, word in (
            (use.reports, "report"),
            (use.supporters, "supporter"),
            (use.rules, "routing rule"),
        )
        if n
    ]
    return ", ".join(parts) or "nothing yet"
