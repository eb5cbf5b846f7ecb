"""Reasons within a category (StreetSafe's "why does this place feel unsafe?").

One definition, read from ``data/defaults/categories.toml``, shared by the resident form, the APIs
(Open311 shows them as the ``reasons`` attribute of a service) and routing conditions. Keys are
a contract with every client and with stored reports (``Report.reasons``): never rename one.
The reasons follow police.uk StreetSafe's lists (https://www.police.uk/streetsafe).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Read directly rather than through data.seed, which itself checks rules against these.
CATEGORIES_FILE = Path(__file__).parent / "data" / "defaults" / "categories.toml"


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


# How the reasons are asked for, on forms and in Open311's service definition.
REASONS_QUESTION = "What makes this place feel unsafe? Choose any that apply."

# Words residents and app makers search for, per category slug (Open311 ``keywords``).
KEYWORDS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "street-lighting": ("street light", "lamp post", "dark", "lighting"),
    "feeling-unsafe": ("unsafe", "StreetSafe", "dark", "isolated", "followed", "CCTV"),
    "harassment": ("VAWG", "catcalling", "followed", "intimidation", "sexual harassment"),
    "anti-social-behaviour": ("ASB", "noise", "street drinking", "nuisance"),
    "drug-dealing": ("drugs", "dealing", "cannabis", "needles"),
    "weapons": ("knife", "weapon", "blade"),
    "dangerous-road": ("speeding", "crossing", "junction", "road safety"),
    "public-transport": ("bus stop", "station", "TfL", "train"),
    "fly-tipping": ("dumping", "rubbish", "waste", "bulky items"),
    "graffiti-vandalism": ("graffiti", "vandalism", "damage", "tagging"),
    "abandoned-vehicle": ("car", "abandoned", "burnt out", "untaxed"),
    "overgrown-vegetation": ("hedge", "trees", "bushes", "overgrown"),
    "damaged-pavement": ("pavement", "trip hazard", "paving", "kerb"),
}


def keywords_for(category_slug: str) -> tuple[str, ...]:
    """Search keywords for a category."""
    return KEYWORDS_BY_CATEGORY.get(category_slug, ())


def reason_labels(category_slug: str, keys: Iterable[str]) -> list[str]:
    """Labels of stored reason keys, in the taxonomy's order."""
    wanted = set(keys)
    return [r.label for r in reasons_for(category_slug) if r.key in wanted]
