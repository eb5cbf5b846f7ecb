"""Which partner owns a report and who else hears about it, with the reason in words.

Precedence, most specific first: a rule for the category in the report's ward, then a
borough-wide rule for the category, then the fallback rule (no category, no ward) that
sends anything else to manual triage. The owner comes from the most specific owner rule;
notified partners are gathered from every matching notified rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from safer_streets.models import Category, RoutingRule, RuleRole, Ward


@dataclass(frozen=True)
class PartnerRef:
    """A partner as routing sees it."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class Rule:
    """A routing rule, detached from the database."""

    id: int
    category: str | None
    ward_code: str | None
    partner: PartnerRef
    role: RuleRole

    @property
    def scope(self) -> str:
        """How specific the rule is, in the words used in routing reasons."""
        if self.category is None:
            return "fallback rule"
        return "ward rule" if self.ward_code else "borough-wide rule"

    @property
    def rank(self) -> int:
        """Lower is more specific."""
        if self.category is None:
            return 2
        return 0 if self.ward_code else 1


@dataclass(frozen=True)
class Place:
    """Where a report is, as routing needs it."""

    ward_code: str | None
    ward_name: str | None


@dataclass(frozen=True)
class RoutingDecision:
    """The owner, the notified partners, the rules that decided, and why in plain words."""

    owner: PartnerRef
    notified: tuple[PartnerRef, ...]
    rule_ids: tuple[int, ...]
    reason: str


class NoFallbackRule(LookupError):
    """The routing table has no fallback rule, so a report could go nowhere."""


def _matches(rule: Rule, category: str, place: Place) -> bool:
    if rule.category not in (None, category):
        return False
    return rule.ward_code is None or rule.ward_code == place.ward_code


def decide(
    rules: Iterable[Rule], *, category: str, category_name: str, place: Place
) -> RoutingDecision:
    """Apply the routing table to one report: pure, deterministic, explained."""
    matching = sorted(
        (r for r in rules if _matches(r, category, place)),
        key=lambda r: (r.rank, r.partner.slug, r.id),
    )
    owners = [r for r in matching if r.role is RuleRole.OWNER]
    if not owners:
        raise NoFallbackRule("the routing table needs a fallback rule (no category, no ward)")
    owner_rule = owners[0]
    where = f" in {place.ward_name}" if place.ward_name else " outside any Lewisham ward"
    if owner_rule.category is None:
        reason = (
            f"No routing rule covers {category_name.lower()}{where}, so it goes to "
            f"{owner_rule.partner.name} for manual triage."
        )
    else:
        reason = f"{category_name}{where} goes to {owner_rule.partner.name} ({owner_rule.scope})."
    notified_rules: dict[str, Rule] = {}
    for rule in matching:
        if rule.role is RuleRole.NOTIFIED and rule.partner.slug != owner_rule.partner.slug:
            notified_rules.setdefault(rule.partner.slug, rule)
    for rule in notified_rules.values():
        reason += f" {rule.partner.name} is notified ({rule.scope})."
    return RoutingDecision(
        owner=owner_rule.partner,
        notified=tuple(r.partner for r in notified_rules.values()),
        rule_ids=(owner_rule.id, *(r.id for r in notified_rules.values())),
        reason=reason,
    )


def fallback_partner(rules: Iterable[Rule]) -> PartnerRef:
    """The partner that triages whatever no other rule covers."""
    for rule in rules:
        if rule.category is None and rule.ward_code is None and rule.role is RuleRole.OWNER:
            return rule.partner
    raise NoFallbackRule("the routing table needs a fallback rule (no category, no ward)")


def rules_for(session: Session, category: Category, ward: Ward | None) -> Sequence[Rule]:
    """Load the active rules that could apply to a category in a ward."""
    ward_filter = RoutingRule.ward_id.is_(None)
    if ward is not None:
        ward_filter = or_(ward_filter, RoutingRule.ward_id == ward.id)
    rows = session.scalars(
        select(RoutingRule)
        .options(
            joinedload(RoutingRule.partner),
            joinedload(RoutingRule.ward),
            joinedload(RoutingRule.category),
        )
        .where(
            RoutingRule.active,
            or_(RoutingRule.category_id.is_(None), RoutingRule.category_id == category.id),
            ward_filter,
        )
    )
    return [
        Rule(
            id=row.id,
            category=row.category.slug if row.category else None,
            ward_code=row.ward.code if row.ward else None,
            partner=PartnerRef(row.partner.id, row.partner.slug, row.partner.name),
            role=row.role,
        )
        for row in rows
    ]
