"""Reasons within a category (StreetSafe's "why does this place feel unsafe?").

One definition, read from ``seed/categories.toml``, shared by the resident form, the APIs and
routing conditions.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Read directly rather than through safer_streets.seed, which itself checks rules against these.
CATEGORIES_FILE = Path(__file__).parent / "seed" / "categories.toml"


@dataclass(frozen=True)
class Reason:
    """One answer to "what makes this place a problem?"."""

    category: str
    key: str
    label: str


@cache
def all_reasons() -> tuple[Reason, ...]:
    """Every reason of every category, in display order."""
    data = tomllib.loads(CATEGORIES_FILE.read_text())
    return tuple(Reason(**entry) for entry in data.get("reason", []))


def reasons_for(category_slug: str) -> tuple[Reason, ...]:
    """The reasons a resident may tick for a category (none for most categories)."""
    return tuple(r for r in all_reasons() if r.category == category_slug)


def invalid_reasons(category_slug: str, keys: list[str]) -> list[str]:
    """The keys that are not reasons of this category."""
    allowed = {r.key for r in reasons_for(category_slug)}
    return [key for key in keys if key not in allowed]
