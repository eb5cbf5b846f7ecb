"""Which partner owns a report and who else hears about it, with the reason in words.

Precedence, most specific first: a rule for the category in a named area covering the report
(a town centre, an estate), then a rule for the category in the report's ward, then a
borough-wide rule for the category, then the fallback rule (no category, no conditions) that
sends anything else to manual triage. Within one level, a rule with more conditions (a time of
day, a reason within the category) beats one with fewer, so "drug dealing at night" beats
"drug dealing". The owner comes from the most specific matching owner rule; notified partners
are gathered from every matching notified rule.

A rule may name "the ward's Safer Neighbourhood Team" instead of a partner: it resolves to the
partner whose ward code is the report's ward (``teams``). In a ward without a team, or outside
every ward, it does not match, and routing falls through as for any other rule that does not
match; the reason then says so.

``decide`` is pure: it sees rules and a report's circumstances, never the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from types import MappingProxyType
from typing import Any

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.orm import Session

from geo.suntimes import LONDON
from safer_streets import taxonomy
from safer_streets.models import Area, Category, Partner, RoutingRule, RuleRole, Ward

WARD_TEAM = "the ward's Safer Neighbourhood Team"
WARD_TEAM_AS_SUBJECT = WARD_TEAM[0].upper() + WARD_TEAM[1:]


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
    """A routing rule, detached from the database.

    A ward-team rule (``ward_team``) has no ``partner`` until ``resolve`` gives it the team of
    a report's ward.
    """

    id: int
    category: str | None
    ward_code: str | None
    partner: PartnerRef | None
    role: RuleRole
    area: AreaRef | None = None
    window: TimeWindow | None = None
    reason: str | None = None
    reason_label: str | None = None
    ward_team: bool = False

    @property
    def scope(self) -> str:
        """How specific the rule's place is, in the words used in routing reasons."""
        if self.category is None:
            return "fallback rule"
        if self.area is not None:
            return "area rule"
        return "ward rule" if self.ward_code or self.ward_team else "borough-wide rule"

    @property
    def partner_name(self) -> str:
        """Who the rule names: the partner, or the ward's team (resolved or not)."""
        if self.partner is None:
            return WARD_TEAM_AS_SUBJECT
        return f"{self.partner.name}, {WARD_TEAM}" if self.ward_team else self.partner.name

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
            # A ward-team rule ranks as a ward rule, though it names no ward: for each ward it
            # stands for the row "this ward -> this ward's team" it replaced, which was a ward
            # rule. Ranked borough-wide, collapsing those rows would hand a category to any
            # borough-wide owner rule beside them that the ward rows used to beat.
            place = 1 if self.ward_code or self.ward_team else 2
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

    ward_team: bool = False

    def as_json(self) -> dict[str, object]:
        """A JSON-ready form for the report's history."""
        found: dict[str, object] = {
            "id": self.id,
            "partner": self.partner,
            "role": self.role,
            "scope": self.scope,
            "conditions": list(self.conditions),
        }
        # Only when set, so that the stored explanation of every other rule stays as it was
        # (re-routing compares them).
        if self.ward_team:
            found["ward_team"] = True
        return found


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


NO_TEAMS: Mapping[str, PartnerRef] = MappingProxyType({})


def resolve(rule: Rule, place: Place, teams: Mapping[str, PartnerRef]) -> Rule | None:
    """The rule with its partner for this place: a ward-team rule takes the team of the
    place's ward, or is None when that ward has no team or the place is in no ward."""
    if not rule.ward_team:
        return rule
    team = teams.get(place.ward_code) if place.ward_code else None
    return None if team is None else replace(rule, partner=team)


def _partner(rule: Rule) -> PartnerRef:
    assert rule.partner is not None, "resolve the rule first"
    return rule.partner


def _ids(rules: Sequence[Rule]) -> str:
    numbers = ", ".join(str(r.id) for r in rules)
    return f"rule {numbers}" if len(rules) == 1 else f"rules {numbers}"


def decide(
    rules: Iterable[Rule],
    *,
    category: str,
    category_name: str,
    place: Place,
    at: time | None = None,
    reasons: Collection[str] = (),
    teams: Mapping[str, PartnerRef] = NO_TEAMS,
) -> RoutingDecision:
    """Apply the routing table to one report: pure, deterministic, explained.

    ``at`` is the report's local (Europe/London) time of day: when it happened or, when the
    reporter did not say, when it was received. Without it no time-of-day rule matches.
    ``teams`` maps a ward code to the ward's Safer Neighbourhood Team, for ward-team rules.
    """
    matching: list[Rule] = []
    teamless: list[Rule] = []
    for rule in rules:
        if matches(rule, category, place, at, reasons):
            found = resolve(rule, place, teams)
            if found is None:
                teamless.append(rule)
            else:
                matching.append(found)
    matching.sort(key=lambda r: (r.rank, _partner(r).slug, r.id))
    owners = [r for r in matching if r.role is RuleRole.OWNER]
    if not owners:
        raise NoFallbackRule("the routing table needs a fallback rule (no category, no ward)")
    owner_rule = owners[0]
    owner = _partner(owner_rule)
    where = f" in {place.ward_name}" if place.ward_name else " outside any Lewisham ward"
    missing = (
        f"{place.ward_name} has no Safer Neighbourhood Team"
        if place.ward_name
        else "it is in no Lewisham ward"
    )
    # Only a ward-team rule that would have outranked the owner's rule changed the outcome.
    passed_over = sorted(
        (
            r
            for r in teamless
            if r.role is RuleRole.OWNER and r.rank <= owner_rule.rank and r.category is not None
        ),
        key=lambda r: (r.rank, r.id),
    )
    if passed_over:
        handled = (
            f"{owner.name} for manual triage"
            if owner_rule.category is None
            else f"{owner_rule.partner_name} ({owner_rule.explanation})"
        )
        reason = (
            f"{category_name}{where} would go to {WARD_TEAM} ({_ids(passed_over)}), "
            f"but {missing}, so it goes to {handled}."
        )
    elif owner_rule.category is None:
        reason = (
            f"No routing rule covers {category_name.lower()}{where}, so it goes to "
            f"{owner.name} for manual triage."
        )
    else:
        reason = (
            f"{category_name}{where} goes to {owner_rule.partner_name} ({owner_rule.explanation})."
        )
    notified_rules: dict[str, Rule] = {}
    for rule in matching:
        if rule.role is RuleRole.NOTIFIED and _partner(rule).slug != owner.slug:
            notified_rules.setdefault(_partner(rule).slug, rule)
    for rule in notified_rules.values():
        name = f"{rule.partner_name}," if rule.ward_team else rule.partner_name
        reason += f" {name} is notified ({rule.explanation})."
    not_notified = [r for r in teamless if r.role is RuleRole.NOTIFIED]
    if not_notified:
        reason += (
            f" {WARD_TEAM_AS_SUBJECT} would be notified ({_ids(not_notified)}), but {missing}."
        )
    deciding = (owner_rule, *notified_rules.values())
    return RoutingDecision(
        owner=owner,
        notified=tuple(_partner(r) for r in notified_rules.values()),
        rule_ids=tuple(r.id for r in deciding),
        reason=reason,
        matched=tuple(
            MatchedRule(
                r.id, _partner(r).slug, r.role.value, r.scope, r.conditions, ward_team=r.ward_team
            )
            for r in deciding
        ),
    )


class RoutingTable:
    """Rules indexed by category, for deciding many reports against one set of rules, with
    each ward's team for the rules that name it."""

    def __init__(self, rules: Iterable[Rule], teams: Mapping[str, PartnerRef] = NO_TEAMS) -> None:
        self.rules = tuple(rules)
        self.teams = MappingProxyType(dict(teams))
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
            teams=self.teams,
        )

    def matching(
        self, *, category: str, place: Place, at: time | None = None, reasons: Collection[str] = ()
    ) -> list[Rule]:
        """Every rule that applies, resolved to this place's ward team where named, most
        specific first (owners before notified)."""
        found = (
            resolve(rule, place, self.teams)
            for rule in self._by_category.get(category, self._fallback)
            if matches(rule, category, place, at, reasons)
        )
        return sorted(
            (rule for rule in found if rule is not None),
            key=lambda r: (r.role is not RuleRole.OWNER, r.rank, _partner(r).slug, r.id),
        )

    @property
    def area_slugs(self) -> frozenset[str]:
        """The areas some rule mentions: only these matter when placing reports."""
        return frozenset(r.area.slug for r in self.rules if r.area is not None)


def fallback_partner(rules: Iterable[Rule]) -> PartnerRef:
    """The partner that triages whatever no other rule covers."""
    for rule in rules:
        if (
            rule.category is None
            and rule.ward_code is None
            and rule.role is RuleRole.OWNER
            and rule.partner is not None
        ):
            return rule.partner
    raise NoFallbackRule("the routing table needs a fallback rule (no category, no ward)")


def to_rule(row: Row[Any], reason_labels: dict[tuple[str, str], str]) -> Rule:
    """A rule as ``decide`` sees it, from a row of ``_rule_query``, with its reason in words
    (``taxonomy.labels_by_key``)."""
    window = None
    if row.window_start is not None and row.window_end is not None:
        window = TimeWindow(row.window_start, row.window_end)
    return Rule(
        id=row.id,
        category=row.category,
        ward_code=row.ward_code,
        partner=None
        if row.ward_team
        else PartnerRef(row.partner_id, row.partner_slug, row.partner_name),
        role=row.role,
        area=AreaRef(row.area_slug, row.area_name) if row.area_slug else None,
        window=window,
        reason=row.reason,
        reason_label=reason_labels.get((row.category, row.reason)) if row.reason else None,
        ward_team=row.ward_team,
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
            RoutingRule.ward_team,
            Category.slug.label("category"),
            Ward.code.label("ward_code"),
            Partner.id.label("partner_id"),
            Partner.slug.label("partner_slug"),
            Partner.name.label("partner_name"),
            Area.slug.label("area_slug"),
            Area.name.label("area_name"),
        )
        .outerjoin(Partner, Partner.id == RoutingRule.partner_id)
        .outerjoin(Category, Category.id == RoutingRule.category_id)
        .outerjoin(Ward, Ward.id == RoutingRule.ward_id)
        .outerjoin(Area, Area.id == RoutingRule.area_id)
        .where(RoutingRule.active)
        .order_by(RoutingRule.id)
    )


def active_rules(session: Session) -> list[Rule]:
    """Every active rule: the whole routing table."""
    labels = taxonomy.labels_by_key(session)
    return [to_rule(row, labels) for row in session.execute(_rule_query())]


def ward_teams(session: Session) -> dict[str, PartnerRef]:
    """Each active ward's Safer Neighbourhood Team by ward code: the partner whose
    ``ward_code`` it is (the first made, should there ever be two)."""
    teams: dict[str, PartnerRef] = {}
    rows = session.execute(
        select(Partner.ward_code, Partner.id, Partner.slug, Partner.name)
        .where(Partner.ward_code.in_(select(Ward.code).where(Ward.active)))
        .order_by(Partner.id)
    )
    for code, partner_id, slug, name in rows:
        teams.setdefault(code, PartnerRef(partner_id, slug, name))
    return teams


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
    labels = taxonomy.labels_by_key(session)
    return [to_rule(row, labels) for row in session.execute(query)]
