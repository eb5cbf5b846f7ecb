"""The policy as people read it: tables on /privacy, on /admin/disclosure and in the README,
and the report form's sentences grouped by the categories they apply to.

Each table is computed with ``rules_for`` from the same per-category data the endpoints obey,
so a page or the README can only say what the endpoints do. /privacy and the admin page pass
the categories in the database; the README passes the seeded defaults (``default_policies``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from safer_streets.data import seed
from safer_streets.disclosure.policy import (
    Audience,
    CategoryPolicy,
    Description,
    Location,
    Photo,
    Rules,
    TimePrecision,
    promises,
    rules_for,
)
from safer_streets.models import Category


def _l(message: str) -> str:
    """Marks a message for translators (``pybabel extract -k _l``); pages translate it when
    they show it, and the README shows the English."""
    return message


@dataclass(frozen=True)
class PolicyRow:
    """One category's public policy, by name: what the tables are computed from."""

    name: str
    policy: CategoryPolicy
    sensitive: bool


@dataclass(frozen=True)
class Table:
    """A table of words: a header and rows of cells, rendered as HTML or as Markdown."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

        return "\n".join(
            [line(self.header), line(["---"] * len(self.header)), *map(line, self.rows)]
        )


NOT_SHOWN = _l("Not shown")
PLACE = {
    Location.EXACT: _l("Exact point"),
    Location.SNAPPED: _l("Nearest police.uk street point (else the ward)"),
    Location.WARD: _l("Ward only"),
    Location.NONE: NOT_SHOWN,
}
TIME = {
    TimePrecision.EXACT: _l("Date and time"),
    TimePrecision.HOUR: _l("Date and hour"),
    TimePrecision.DAY: _l("Day"),
    TimePrecision.MONTH: _l("Month"),
}
WORDS = {
    Description.FULL: _l("As written"),
    Description.MODERATED: _l("Only a partner's checked version"),
    Description.NONE: NOT_SHOWN,
}
PHOTO = {
    Photo.ANY: _l("Yes"),
    Photo.APPROVED: _l("Once a partner approves it"),
    Photo.NONE: NOT_SHOWN,
}
# One column per field of Rules, in its order; a new field without a heading here fails a test.
RULE_HEADINGS = {
    "listed": _l("Shown one by one"),
    "location": _l("Place"),
    "time": _l("Time"),
    "description": _l("Description"),
    "photo": _l("Photo"),
    "reasons": _l("Reasons given"),
    "supporters": _l("Supporters"),
    "contact": _l("Reporter's contact"),
    "internal_notes": _l("Internal notes"),
    "internal_routing_reason": _l("Why it went to its team"),
    "logged": _l("Each view logged"),
}


def _yes_no(value: bool) -> str:
    return _l("Yes") if value else _l("No")


def _rule_cell(name: str, rules: Rules) -> str:
    value = getattr(rules, name)
    if name != "listed" and not rules.listed:
        return NOT_SHOWN if name != "logged" else _l("No")
    if name == "location":
        return PLACE[value]
    if name == "time":
        return TIME[value]
    if name == "description":
        return WORDS[value]
    if name == "photo":
        return PHOTO[value]
    if name == "internal_routing_reason":
        return _l("As staff wrote it") if value else _l("Category, ward and team only")
    return _yes_no(value)


def as_category(row: PolicyRow) -> Category:
    """A category (never stored) carrying ``row``'s policy, to ask ``rules_for`` about it."""
    return Category(
        name=row.name,
        public=True,
        sensitive=row.sensitive,
        disclosure_listed=row.policy.listed,
        disclosure_location=row.policy.location.value,
        disclosure_time=row.policy.time.value,
        disclosure_description=row.policy.description.value,
    )


def policy_rows(categories: Iterable[Category]) -> list[PolicyRow]:
    """The public policy of each category residents can choose."""
    return [PolicyRow(c.name, CategoryPolicy.of(c), c.sensitive) for c in categories if c.public]


def public_table(rows: Iterable[PolicyRow]) -> Table:
    """What the public (anyone, and API clients) sees of each category's reports."""
    names = ("listed", "location", "time", "description", "photo")
    body = []
    for row in rows:
        rules = rules_for(as_category(row), Audience.PUBLIC)
        body.append((row.name, *(_rule_cell(name, rules) for name in names)))
    return Table((_l("Category"), *(RULE_HEADINGS[name] for name in names)), tuple(body))


def audience_table(row: PolicyRow) -> Table:
    """What each audience sees of reports under ``row``'s policy: one row per audience."""
    names = [field.name for field in fields(Rules)]
    body = []
    for audience in Audience:
        rules = rules_for(as_category(row), audience)
        body.append((audience.label, *(_rule_cell(name, rules) for name in names)))
    return Table((_l("Who"), *(RULE_HEADINGS[name] for name in names)), tuple(body))


def logged_categories(rows: Iterable[PolicyRow]) -> list[str]:
    """The categories each view of whose reports' detail goes to the access log."""
    return [row.name for row in rows if rules_for(as_category(row), Audience.OWNER_STAFF).logged]


@dataclass(frozen=True)
class PolicyGroup:
    """Categories that share one policy, and what each audience sees of their reports."""

    names: tuple[str, ...]
    table: Table


def audience_tables(rows: Iterable[PolicyRow]) -> list[PolicyGroup]:
    """One audience table per distinct policy, naming the categories that follow it."""
    groups: dict[tuple[CategoryPolicy, bool], list[PolicyRow]] = {}
    for row in rows:
        groups.setdefault((row.policy, row.sensitive), []).append(row)
    return [
        PolicyGroup(tuple(row.name for row in members), audience_table(members[0]))
        for members in groups.values()
    ]


@dataclass(frozen=True)
class PromiseGroup:
    """Categories whose residents are told the same thing about what will be public."""

    categories: tuple[Category, ...]
    sentences: tuple[str, ...]
    listed: bool  # whether the public sees these reports one by one at all


def promise_groups(categories: Iterable[Category]) -> list[PromiseGroup]:
    """``promises`` of each category, one group per distinct set of sentences, in order."""
    groups: dict[tuple[str, ...], list[Category]] = {}
    for category in categories:
        groups.setdefault(tuple(promises(category)), []).append(category)
    return [
        PromiseGroup(tuple(members), sentences, rules_for(members[0], Audience.PUBLIC).listed)
        for sentences, members in groups.items()
    ]


def default_policies() -> list[PolicyRow]:
    """The policy of each category as ``safer-streets seed`` would store it (no database)."""
    profiles = seed.disclosure_profiles(_read_default("disclosure.toml"))
    rows = []
    for entry in _read_default("categories.toml")["category"]:
        if not entry.get("public", True):
            continue
        try:
            profile = profiles[entry["disclosure"]]
        except KeyError:
            raise seed.SeedError(
                f"categories.toml: {entry['slug']} needs a disclosure profile,"
                f" one of {sorted(profiles)}"
            ) from None
        category = Category(
            name=entry["name"], sensitive=entry.get("sensitive", False), public=True, **profile
        )
        rows.append(PolicyRow(category.name, CategoryPolicy.of(category), category.sensitive))
    return rows


def _read_default(name: str) -> dict:
    return tomllib.loads((seed.SEED_DIR / name).read_text())
