"""Routing rules as data an admin edits: validation, changes with a required why, history.

Every change (and every rule the seed data creates) is kept in ``routing_rule_change`` with
who, when, why and the rule before and after. Rules are deactivated, never deleted, so the
rule ids stored in reports' routing history always resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from safer_streets import taxonomy
from safer_streets.errors import InvalidInput, NotAllowed, NotFound
from safer_streets.models import (
    Area,
    Category,
    Partner,
    Role,
    RoutingRule,
    RoutingRuleChange,
    RuleChange,
    RuleRole,
    User,
    Ward,
)
from safer_streets.routing.decide import WARD_TEAM, WARD_TEAM_AS_SUBJECT

MAX_WHY_CHARS = 1000
# What the rule form and rules.toml give as the partner of a rule naming the ward's team:
# braces, so that it can never be a partner's slug.
WARD_TEAM_CHOICE = "{ward-team}"
PLACES = ("borough", "ward", "area")
SNAPSHOT_LABELS = {
    "category": "Category",
    "ward": "Ward",
    "area": "Area",
    "window": "Time of day",
    "reason": "Reason",
    "partner": "Partner",
    "role": "Role",
    "active": "Active",
}


def require_admin(actor: User | None) -> User:
    """Only admins change the routing table."""
    if actor is None or not actor.active or actor.role is not Role.ADMIN:
        raise NotAllowed("only an admin can change routing rules")
    return actor


def is_fallback(rule: RoutingRule) -> bool:
    """The rule that sends anything else to manual triage: no category, no conditions."""
    return (
        rule.category_id is None
        and rule.ward_id is None
        and rule.area_id is None
        and rule.window_start is None
        and rule.reason is None
    )


def reason_words(rule: RoutingRule) -> str | None:
    """A rule's reason as people say it ("badly lit"), not its stored key ("badly-lit")."""
    if rule.reason is None:
        return None
    session = Session.object_session(rule)
    labels = (
        taxonomy.reason_labels(session, rule.category.slug, [rule.reason])
        if rule.category and session is not None
        else []
    )
    return labels[0].lower() if labels else rule.reason.replace("-", " ")


def format_window(start: time | None, end: time | None) -> str | None:
    """``22:00–06:00`` for a time-of-day window, None without one."""
    if start is None or end is None:
        return None
    return f"{start:%H:%M}–{end:%H:%M}"


def snapshot(rule: RoutingRule) -> dict[str, Any]:
    """The rule as the history stores it: readable slugs and codes, not ids."""
    return {
        "category": rule.category.slug if rule.category else None,
        "ward": rule.ward.code if rule.ward else None,
        "ward_name": rule.ward.name if rule.ward else None,
        "area": rule.area.slug if rule.area else None,
        "window": format_window(rule.window_start, rule.window_end),
        "reason": rule.reason,
        "partner": partner_key(rule),
        "role": rule.role.value,
        "active": rule.active,
    }


def partner_key(rule: RoutingRule) -> str:
    """Who a rule names, as its history stores it: a partner's slug, or the ward's team."""
    if rule.ward_team or rule.partner is None:
        return WARD_TEAM
    return rule.partner.slug


def partner_words(rule: RoutingRule) -> str:
    """Who a rule names, as the admin pages show it."""
    if rule.ward_team or rule.partner is None:
        return WARD_TEAM_AS_SUBJECT
    return rule.partner.name


def record_change(
    session: Session,
    rule: RoutingRule,
    *,
    actor: User | None,
    action: RuleChange,
    why: str,
    before: dict[str, Any] | None,
) -> RoutingRuleChange:
    """Keep one change in the history; the caller has already applied it."""
    session.flush()
    session.refresh(rule)
    change = RoutingRuleChange(
        rule_id=rule.id,
        actor_id=actor.id if actor else None,
        action=action,
        why=why,
        before=before,
        after=snapshot(rule),
    )
    session.add(change)
    session.flush()
    return change


def describe_change(change: RoutingRuleChange) -> list[tuple[str, Any, Any]]:
    """The fields that differ between before and after: (label, before, after)."""
    before = change.before or {}
    return [
        (label, before.get(key), change.after.get(key))
        for key, label in SNAPSHOT_LABELS.items()
        if before.get(key) != change.after.get(key)
    ]


# ---- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleFilter:
    """What the rules list is narrowed to; empty strings mean "any"."""

    category: str = ""
    partner: str = ""
    place: str = ""  # "borough", a ward code or an area slug
    role: str = ""
    status: str = "active"  # "active", "inactive" or "all"

    @classmethod
    def from_args(cls, args: dict[str, str]) -> RuleFilter:
        """Read filters from query-string values, ignoring unknown ones."""
        status = args.get("status", "active")
        return cls(
            category=args.get("category", "").strip(),
            partner=args.get("partner", "").strip(),
            place=args.get("place", "").strip(),
            role=args.get("role", "").strip() if args.get("role") in set(RuleRole) else "",
            status=status if status in ("active", "inactive", "all") else "active",
        )


def _with_relations(query: Select[tuple[RoutingRule]]) -> Select[tuple[RoutingRule]]:
    return query.options(
        joinedload(RoutingRule.category),
        joinedload(RoutingRule.ward),
        joinedload(RoutingRule.area),
        joinedload(RoutingRule.partner),
    )


def list_rules(session: Session, actor: User | None, filters: RuleFilter) -> list[RoutingRule]:
    """The rules matching the filters: fallback first, then by category, place and partner."""
    require_admin(actor)
    query = _with_relations(select(RoutingRule))
    if filters.status != "all":
        query = query.where(RoutingRule.active.is_(filters.status == "active"))
    if filters.category:
        query = query.join(Category, RoutingRule.category_id == Category.id).where(
            Category.slug == filters.category
        )
    if filters.partner == WARD_TEAM_CHOICE:
        query = query.where(RoutingRule.ward_team)
    elif filters.partner:
        query = query.join(Partner, RoutingRule.partner_id == Partner.id).where(
            Partner.slug == filters.partner
        )
    if filters.role:
        query = query.where(RoutingRule.role == RuleRole(filters.role))
    if filters.place == "borough":
        # A rule naming the ward's team is a ward rule (see ``decide.Rule.rank``): listed
        # under each ward rather than here.
        query = query.where(
            RoutingRule.ward_id.is_(None), RoutingRule.area_id.is_(None), ~RoutingRule.ward_team
        )
    elif filters.place:
        ward_ids = select(Ward.id).where(Ward.code == filters.place)
        area_ids = select(Area.id).where(Area.slug == filters.place)
        # A rule naming the ward's team applies in every ward, as the ward's own rows did.
        in_a_ward = RoutingRule.ward_team & RoutingRule.area_id.is_(None) & ward_ids.exists()
        query = query.where(
            RoutingRule.ward_id.in_(ward_ids.scalar_subquery())
            | RoutingRule.area_id.in_(area_ids.scalar_subquery())
            | in_a_ward
        )
    rules = list(session.scalars(query).unique())
    return sorted(
        rules,
        key=lambda r: (
            r.category is not None,
            r.category.position if r.category else 0,
            r.area.name if r.area else "",
            r.ward.name if r.ward else "",
            r.role is not RuleRole.OWNER,
            r.partner.slug if r.partner else "",
            r.id,
        ),
    )


def get_rule(session: Session, actor: User | None, rule_id: int) -> RoutingRule:
    """One rule, or ``NotFound``."""
    require_admin(actor)
    rule = session.scalar(_with_relations(select(RoutingRule)).where(RoutingRule.id == rule_id))
    if rule is None:
        raise NotFound(f"no routing rule {rule_id}")
    return rule


def history(
    session: Session, actor: User | None, *, rule_id: int | None = None, limit: int = 200
) -> list[RoutingRuleChange]:
    """Changes to the routing table (or to one rule), newest first."""
    require_admin(actor)
    query = (
        select(RoutingRuleChange)
        .options(joinedload(RoutingRuleChange.actor))
        .order_by(RoutingRuleChange.at.desc(), RoutingRuleChange.id.desc())
        .limit(limit)
    )
    if rule_id is not None:
        query = query.where(RoutingRuleChange.rule_id == rule_id)
    return list(session.scalars(query))


# ---- changing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleValues:
    """A validated rule: what an admin asked for, resolved to rows."""

    category: Category | None
    ward: Ward | None
    area: Area | None
    window_start: time | None
    window_end: time | None
    reason: str | None
    partner: Partner | None  # None: the ward's team
    role: RuleRole

    @property
    def ward_team(self) -> bool:
        """Whether the rule names the ward's Safer Neighbourhood Team."""
        return self.partner is None


FORM_FIELDS = (
    "rule",
    "category",
    "place",
    "ward",
    "area",
    "window_start",
    "window_end",
    "reason",
    "partner",
    "role",
    "why",
)


def _field_position(name: str) -> int:
    return FORM_FIELDS.index(name) if name in FORM_FIELDS else len(FORM_FIELDS)


def _parse_time(raw: str) -> time:
    hours, _, minutes = raw.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError(raw)
    return time(int(hours), int(minutes))


def _why(form: dict[str, str], errors: dict[str, str]) -> str:
    why = " ".join(form.get("why", "").split())
    if not why:
        errors["why"] = "say why: it is kept in the rule's history"
    elif len(why) > MAX_WHY_CHARS:
        errors["why"] = f"must be at most {MAX_WHY_CHARS} characters"
    return why


def _named(
    session: Session,
    form: dict[str, str],
    errors: dict[str, str],
    field: str,
    key: InstrumentedAttribute[str],
    choose: str,
    *conditions: Any,
) -> Any:
    """The row whose ``key`` the form gives in ``field``, or None with the error recorded."""
    value = form.get(field, "").strip()
    row = session.scalar(select(key.class_).where(key == value, *conditions)) if value else None
    if row is None:
        errors[field] = f"unknown {field} {value!r}" if value else choose
    return row


def parse_rule_form(
    session: Session,
    form: dict[str, str],
    *,
    fallback: bool = False,
    current_reason: str | None = None,
) -> tuple[RuleValues, str]:
    """Validate a rule form (HTML field names) into rows and the why, or ``InvalidInput``.
    A rule may keep the reason it has (``current_reason``) after that reason is retired."""
    errors: dict[str, str] = {}
    why = _why(form, errors)

    ward_team = form.get("partner", "").strip() == WARD_TEAM_CHOICE
    partner = (
        None
        if ward_team
        else _named(session, form, errors, "partner", Partner.slug, "choose a partner")
    )

    if fallback:
        # The fallback rule only names who triages what nothing else covers.
        if ward_team:
            errors["partner"] = (
                "the fallback rule needs one partner: reports in no ward, or in a ward without "
                "a team, fall back to it"
            )
        if errors:
            raise InvalidInput(errors)
        assert partner is not None
        values = RuleValues(None, None, None, None, None, None, partner, RuleRole.OWNER)
        return values, why

    category = _named(session, form, errors, "category", Category.slug, "choose a category")

    role_value = form.get("role", "").strip()
    role = RuleRole(role_value) if role_value in set(RuleRole) else None
    if role is None:
        errors["role"] = "choose owner or notified"

    ward = area = None
    place = form.get("place", "borough").strip() or "borough"
    if place not in PLACES:
        errors["place"] = "choose borough-wide, a ward or an area"
    elif place == "ward":
        ward = _named(session, form, errors, "ward", Ward.code, "choose a ward", Ward.active)
    elif place == "area":
        area = _named(session, form, errors, "area", Area.slug, "choose an area")

    window_start = window_end = None
    raw_start, raw_end = form.get("window_start", "").strip(), form.get("window_end", "").strip()
    if raw_start or raw_end:
        for name, raw in (("window_start", raw_start), ("window_end", raw_end)):
            if not raw:
                errors[name] = "give both times of the window, or neither"
                continue
            try:
                parsed = _parse_time(raw)
            except ValueError:
                errors[name] = "must be a time such as 22:00"
                continue
            if name == "window_start":
                window_start = parsed
            else:
                window_end = parsed
        if window_start is not None and window_start == window_end:
            errors["window_end"] = "must differ from the start (leave both empty for all day)"

    reason = form.get("reason", "").strip() or None
    if (
        reason is not None
        and category is not None
        and reason != current_reason
        and taxonomy.invalid_reasons(session, category.slug, [reason])
    ):
        offered = taxonomy.reasons_for(session, category.slug)
        allowed = ", ".join(r.key for r in offered) or "none"
        errors["reason"] = f"not a reason for {category.name.lower()} (reasons: {allowed})"

    if errors:
        # In the order the form shows the fields, so the summary reads top to bottom.
        raise InvalidInput(dict(sorted(errors.items(), key=lambda item: _field_position(item[0]))))
    assert partner is not None or ward_team
    assert role is not None
    values = RuleValues(category, ward, area, window_start, window_end, reason, partner, role)
    return values, why


def _apply(rule: RoutingRule, values: RuleValues) -> None:
    rule.category = values.category
    rule.ward = values.ward
    rule.area = values.area
    rule.window_start = values.window_start
    rule.window_end = values.window_end
    rule.reason = values.reason
    rule.partner = values.partner
    rule.ward_team = values.ward_team
    rule.role = values.role


def _same_rule(
    session: Session, values: RuleValues, *, other_than: int | None = None
) -> RoutingRule | None:
    def equal(column: Any, value: Any) -> Any:
        return column.is_(None) if value is None else column == value

    query = select(RoutingRule).where(
        equal(RoutingRule.category_id, values.category.id if values.category else None),
        equal(RoutingRule.ward_id, values.ward.id if values.ward else None),
        equal(RoutingRule.area_id, values.area.id if values.area else None),
        equal(RoutingRule.window_start, values.window_start),
        equal(RoutingRule.window_end, values.window_end),
        equal(RoutingRule.reason, values.reason),
        equal(RoutingRule.partner_id, values.partner.id if values.partner else None),
        RoutingRule.ward_team.is_(values.ward_team),
        RoutingRule.role == values.role,
    )
    if other_than is not None:
        query = query.where(RoutingRule.id != other_than)
    return session.scalar(query)


def _refuse_duplicate(session: Session, values: RuleValues, other_than: int | None = None) -> None:
    twin = _same_rule(session, values, other_than=other_than)
    if twin is None:
        return
    if twin.active:
        raise InvalidInput({"rule": f"the same rule already exists (rule {twin.id})"})
    raise InvalidInput(
        {"rule": f"the same rule exists but is inactive (rule {twin.id}): reactivate that one"}
    )


def create_rule(session: Session, actor: User | None, form: dict[str, str]) -> RoutingRule:
    """Add a rule from an admin's form; refused when an identical rule exists."""
    require_admin(actor)
    values, why = parse_rule_form(session, form)
    _refuse_duplicate(session, values)
    rule = RoutingRule(active=True)
    _apply(rule, values)
    session.add(rule)
    record_change(session, rule, actor=actor, action=RuleChange.CREATED, why=why, before=None)
    return rule


def edit_rule(
    session: Session, actor: User | None, rule_id: int, form: dict[str, str]
) -> RoutingRule:
    """Change a rule from an admin's form, keeping the before and after in its history."""
    rule = get_rule(session, actor, rule_id)
    values, why = parse_rule_form(
        session, form, fallback=is_fallback(rule), current_reason=rule.reason
    )
    _refuse_duplicate(session, values, other_than=rule.id)
    before = snapshot(rule)
    _apply(rule, values)
    session.flush()
    if snapshot(rule) == before:
        raise InvalidInput({"rule": "nothing was changed"})
    record_change(session, rule, actor=actor, action=RuleChange.EDITED, why=why, before=before)
    return rule


def set_active(
    session: Session, actor: User | None, rule_id: int, *, active: bool, why: str
) -> RoutingRule:
    """Deactivate or reactivate a rule; the fallback rule always stays active."""
    rule = get_rule(session, actor, rule_id)
    errors: dict[str, str] = {}
    why = _why({"why": why}, errors)
    if not active and is_fallback(rule):
        errors["rule"] = (
            "the fallback rule cannot be deactivated, or reports could go nowhere: "
            "edit it to change who triages"
        )
    elif rule.active == active:
        errors["rule"] = f"rule {rule.id} is already {'active' if active else 'inactive'}"
    if errors:
        raise InvalidInput(errors)
    before = snapshot(rule)
    rule.active = active
    action = RuleChange.REACTIVATED if active else RuleChange.DEACTIVATED
    record_change(session, rule, actor=actor, action=action, why=why, before=before)
    return rule


# ---- what the forms offer -------------------------------------------------------------------


@dataclass(frozen=True)
class RuleChoices:
    """The options a rule form offers, in display order."""

    categories: list[Category]
    wards: list[Ward]
    areas: list[Area]
    partners: list[Partner]
    reasons: dict[str, list[tuple[str, str]]]  # category name -> (key, label)


def rule_choices(session: Session) -> RuleChoices:
    """Categories, active wards, areas, partners and each category's reasons."""
    categories = list(session.scalars(select(Category).order_by(Category.position)))
    return RuleChoices(
        categories=categories,
        wards=list(session.scalars(select(Ward).where(Ward.active).order_by(Ward.name))),
        areas=list(session.scalars(select(Area).order_by(Area.name))),
        partners=list(session.scalars(select(Partner).order_by(Partner.name))),
        reasons={
            c.name: [(r.key, r.label) for r in offered]
            for c in categories
            if (offered := taxonomy.reasons_for(session, c.slug))
        },
    )


def form_from_rule(rule: RoutingRule) -> dict[str, str]:
    """A rule as the values of its edit form."""
    place = "area" if rule.area else "ward" if rule.ward else "borough"
    return {
        "category": rule.category.slug if rule.category else "",
        "place": place,
        "ward": rule.ward.code if rule.ward else "",
        "area": rule.area.slug if rule.area else "",
        "partner": rule.partner.slug if rule.partner else WARD_TEAM_CHOICE,
        "role": rule.role.value,
        "window_start": f"{rule.window_start:%H:%M}" if rule.window_start else "",
        "window_end": f"{rule.window_end:%H:%M}" if rule.window_end else "",
        "reason": rule.reason or "",
        "why": "",
    }
