"""Which partner owns a report and who else hears about it, with the reason in words.

Precedence, most specific first: a rule for the category in a named area covering the report
(a town centre, an estate), then a rule for the category in the report's ward, then a
borough-wide rule for the category, then the fallback rule (no category, no conditions) that
sends anything else to manual triage. Within one level, a rule with more conditions (a time of
day, a reason within the category) beats one with fewer, so "drug dealing at night" beats
"drug dealing". The owner comes from the most specific matching owner rule; notified partners
are gathered from every matching notified rule.

``decide`` is pure: it sees rules and a report's circumstances, never the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.orm import Session

from geo.suntimes import LONDON
from safer_streets.models import Area, Category, Partner, RoutingRule, RuleRole, Ward
from safer_streets.taxonomy import all_reasons


@dataclass(frozen=True)
class PartnerRef:
    """A partner as routing sees it."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class AreaRef:
    """A named area as routing sees it."""

    slug: str
    name: str


@dataclass(frozen=True)
class TimeWindow:
    """A local time-of-day window, start inclusive and end exclusive; may wrap midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("a time window needs different start and end times")

    def covers(self, moment: time) -> bool:
        """True when ``moment`` (local time) falls in the window."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"between {self.start:%H:%M} and {self.end:%H:%M}"


@dataclass(frozen=True)
class Rule:
    """A routing rule, detached from the database."""

    id: int
    category: str | None
    ward_code: str | None
    partner: PartnerRef
    role: RuleRole
    area: AreaRef | None = None
    window: TimeWindow | None = None
    reason: str | None = None
    reason_label: str | None = None

    @property
    def scope(self) -> str:
        """How specific the rule's place is, in the words used in routing reasons."""
        if self.category is None:
            return "fallback rule"
        if self.area is not None:
            return "area rule"
        return "ward rule" if self.ward_code else "borough-wide rule"

    @property
    def conditions(self) -> tuple[str, ...]:
        """The conditions beyond category and ward that this rule needs, in words."""
        words = []
        if self.area is not None:
            words.append(f"in {self.area.name}")
        if self.window is not None:
            words.append(str(self.window))
        if self.reason is not None:
            words.append(f"reason “{self.reason_label or self.reason}”")
        return tuple(words)

    @property
    def explanation(self) -> str:
        """The rule's scope and conditions, e.g. ``area rule: in Catford town centre``."""
        if not self.conditions:
            return self.scope
        return f"{self.scope}: {', '.join(self.conditions)}"

    @property
    def rank(self) -> tuple[int, int]:
        """Lower is more specific: place first, then the number of extra conditions."""
        if self.category is None:
            place = 3
        elif self.area is not None:
            place = 0
        else:
            place = 1 if self.ward_code else 2
        extra = (self.window is not None) + (self.reason is not None)
        return place, -extra


@dataclass(frozen=True)
class Place:
    """Where a report is, as routing needs it: its ward and the named areas covering it."""

    ward_code: str | None
    ward_name: str | None
    areas: tuple[AreaRef, ...] = ()


@dataclass(frozen=True)
class MatchedRule:
    """A rule that decided part of a routing, for the stored explanation."""

    id: int
    partner: str
    role: str
    scope: str
    conditions: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """A JSON-ready form for the report's history."""
        return {
            "id": self.id,
            "partner": self.partner,
            "role": self.role,
            "scope": self.scope,
            "conditions": list(self.conditions),
        }


@dataclass(frozen=True)
class RoutingDecision:
    """The owner, the notified partners, the rules that decided, and why in plain words."""

    owner: PartnerRef
    notified: tuple[PartnerRef, ...]
    rule_ids: tuple[int, ...]
    reason: str
    matched: tuple[MatchedRule, ...] = field(default=())


class NoFallbackRule(LookupError):
    """The routing table has no fallback rule, so a report could go nowhere."""


def local_time(moment: datetime) -> time:
    """The Europe/London wall-clock time of an aware datetime, as time-of-day rules read it."""
    return moment.astimezone(LONDON).time().replace(tzinfo=None)


def matches(
    rule: Rule, category: str, place: Place, at: time | None, reasons: Collection[str]
) -> bool:
    """Whether a rule applies to a report of this category, place, time of day and reasons."""
    if rule.category not in (None, category):
        return False
    if rule.ward_code is not None and rule.ward_code != place.ward_code:
        return False
    if rule.area is not None and rule.area not in place.areas:
        return False
    if rule.window is not None and (at is None or not rule.window.covers(at)):
        return False
    return rule.reason is None or rule.reason in reasons


def decide(
    rules: Iterable[Rule],
    *,
    category: str,
    category_name: str,
    place: Place,
    at: time | None = None,
    reasons: Collection[str] = (),
) -> RoutingDecision:
    """Apply the routing table to one report: pure, deterministic, explained.

    ``at`` is the report's local (Europe/London) time of day: when it happened or, when the
    reporter did not say, when it was received. Without it no time-of-day rule matches.
    """
    matching = sorted(
        (r for r in rules if matches(r, category, place, at, reasons)),
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
        reason = (
            f"{category_name}{where} goes to {owner_rule.partner.name} ({owner_rule.explanation})."
        )
    notified_rules: dict[str, Rule] = {}
    for rule in matching:
        if rule.role is RuleRole.NOTIFIED and rule.partner.slug != owner_rule.partner.slug:
            notified_rules.setdefault(rule.partner.slug, rule)
    for rule in notified_rules.values():
        reason += f" {rule.partner.name} is notified ({rule.explanation})."
    deciding = (owner_rule, *notified_rules.values())
    return RoutingDecision(
        owner=owner_rule.partner,
        notified=tuple(r.partner for r in notified_rules.values()),
        rule_ids=tuple(r.id for r in deciding),
        reason=reason,
        matched=tuple(
            MatchedRule(r.id, r.partner.slug, r.role.value, r.scope, r.conditions) for r in deciding
        ),
    )


class RoutingTable:
    """Rules indexed by category, for deciding many reports against one set of rules."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        by_category: dict[str | None, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            by_category[rule.category].append(rule)
        self._fallback = tuple(by_category.pop(None, ()))
        self._by_category = {c: (*rs, *self._fallback) for c, rs in by_category.items()}

    def decide(
        self,
        *,
        category: str,
        category_name: str,
        place: Place,
        at: time | None = None,
        reasons: Collection[str] = (),
    ) -> RoutingDecision:
        """``decide`` over the rules that could apply to this category."""
        return decide(
            self._by_category.get(category, self._fallback),
            category=category,
            category_name=category_name,
            place=place,
            at=at,
            reasons=reasons,
        )

    @property
    def area_slugs(self) -> frozenset[str]:
        """The areas some rule mentions: only these matter when placing reports."""
        return frozenset(r.area.slug for r in self.rules if r.area is not None)


def fallback_partner(rules: Iterable[Rule]) -> PartnerRef:
    """The partner that triages whatever no other rule covers."""
    for rule in rules:
        if rule.category is None and rule.ward_code is None and rule.role is RuleRole.OWNER:
            return rule.partner
    raise NoFallbackRule("the routing table needs a fallback rule (no category, no ward)")


def _reason_labels() -> dict[str, str]:
    return {r.key: r.label for r in all_reasons()}


def to_rule(row: Row[Any], reason_labels: dict[str, str] | None = None) -> Rule:
    """A rule as ``decide`` sees it, from a row of ``_rule_query``."""
    labels = _reason_labels() if reason_labels is None else reason_labels
    window = None
    if row.window_start is not None and row.window_end is not None:
        window = TimeWindow(row.window_start, row.window_end)
    return Rule(
        id=row.id,
        category=row.category,
        ward_code=row.ward_code,
        partner=PartnerRef(row.partner_id, row.partner_slug, row.partner_name),
        role=row.role,
        area=AreaRef(row.area_slug, row.area_name) if row.area_slug else None,
        window=window,
        reason=row.reason,
        reason_label=labels.get(row.reason) if row.reason else None,
    )


def _rule_query() -> Select[Any]:
    # Plain rows rather than ORM objects: the whole table is read for every batch of reports.
    return (
        select(
            RoutingRule.id,
            RoutingRule.role,
            RoutingRule.window_start,
            RoutingRule.window_end,
            RoutingRule.reason,
            Category.slug.label("category"),
            Ward.code.label("ward_code"),
            Partner.id.label("partner_id"),
            Partner.slug.label("partner_slug"),
            Partner.name.label("partner_name"),
            Area.slug.label("area_slug"),
            Area.name.label("area_name"),
        )
        .join(Partner, Partner.id == RoutingRule.partner_id)
        .outerjoin(Category, Category.id == RoutingRule.category_id)
        .outerjoin(Ward, Ward.id == RoutingRule.ward_id)
        .outerjoin(Area, Area.id == RoutingRule.area_id)
        .where(RoutingRule.active)
        .order_by(RoutingRule.id)
    )


def active_rules(session: Session) -> list[Rule]:
    """Every active rule: the whole routing table."""
    labels = _reason_labels()
    return [to_rule(row, labels) for row in session.execute(_rule_query())]


def rules_for(
    session: Session, category: Category, ward: Ward | None, areas: Sequence[Area] = ()
) -> list[Rule]:
    """Load the active rules that could apply to a category in a ward and named areas."""
    ward_filter = RoutingRule.ward_id.is_(None)
    if ward is not None:
        ward_filter = or_(ward_filter, RoutingRule.ward_id == ward.id)
    area_filter = RoutingRule.area_id.is_(None)
    if areas:
        area_filter = or_(area_filter, RoutingRule.area_id.in_([a.id for a in areas]))
    query = _rule_query().where(
        or_(RoutingRule.category_id.is_(None), RoutingRule.category_id == category.id),
        ward_filter,
        area_filter,
    )
    labels = _reason_labels()
    return [to_rule(row, labels) for row in session.execute(query)]
