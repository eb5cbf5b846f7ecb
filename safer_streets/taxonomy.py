"""The reasons a resident can give within a category, and search keywords for each category.

This is the one place the StreetSafe-style reasons are defined: the resident form, routing,
the JSON API and Open311 (as the ``reasons`` attribute of a service) all read them from here.
Keys are a contract with every client and with stored reports (``Report.reasons``): never
rename one; add new keys instead.

The reasons follow police.uk StreetSafe's two lists (environmental and behavioural factors),
see https://www.police.uk/streetsafe and /work/shared/reference/feature-anchors.md §3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ENVIRONMENTAL = "environmental"
BEHAVIOURAL = "behavioural"


@dataclass(frozen=True)
class Reason:
    """One reason a place feels unsafe, e.g. ``badly-lit``."""

    key: str
    name: str
    group: str


FEELING_UNSAFE_REASONS: tuple[Reason, ...] = (
    Reason("badly-lit", "Badly lit: poor or no street lighting", ENVIRONMENTAL),
    Reason("isolated", "Isolated: empty buildings or nobody around", ENVIRONMENTAL),
    Reason("no-cctv", "No CCTV", ENVIRONMENTAL),
    Reason("blind-spots", "Blind spots or hidden areas in the street layout", ENVIRONMENTAL),
    Reason(
        "restricted-visibility",
        "Restricted visibility: overgrown bushes or trees, high walls",
        ENVIRONMENTAL,
    ),
    Reason(
        "rundown",
        "Rundown: derelict buildings, abandoned cars, graffiti or fly-tipping",
        ENVIRONMENTAL,
    ),
    Reason("drugs-or-alcohol", "Signs of drug or alcohol use", ENVIRONMENTAL),
    Reason("followed", "Being followed, or having been followed", BEHAVIOURAL),
    Reason("verbal-harassment-individual", "Verbal harassment by one person", BEHAVIOURAL),
    Reason("verbal-harassment-group", "Verbal harassment by a group", BEHAVIOURAL),
    Reason("other-harassment", "Other forms of harassment", BEHAVIOURAL),
)

# Category slug → the reasons a report in it may carry. Categories not listed take none.
REASONS_BY_CATEGORY: dict[str, tuple[Reason, ...]] = {
    "feeling-unsafe": FEELING_UNSAFE_REASONS,
}

# How the reasons are asked for: the question text shown on forms and in Open311.
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


def reasons_for(category_slug: str) -> tuple[Reason, ...]:
    """The reasons a report in this category may carry (none for most categories)."""
    return REASONS_BY_CATEGORY.get(category_slug, ())


def keywords_for(category_slug: str) -> tuple[str, ...]:
    """Search keywords for a category."""
    return KEYWORDS_BY_CATEGORY.get(category_slug, ())


def check_reasons(category_slug: str, keys: Iterable[str]) -> str | None:
    """Why these reason keys cannot be used for this category, or None when they can."""
    keys = list(keys)
    if not keys:
        return None
    allowed = reasons_for(category_slug)
    if not allowed:
        return f"the category {category_slug!r} takes no reasons"
    known = {reason.key for reason in allowed}
    unknown = [key for key in keys if key not in known]
    if unknown:
        return f"unknown reason {unknown[0]!r}; choose from {', '.join(sorted(known))}"
    return None


def ordered_reasons(category_slug: str, keys: Iterable[str]) -> list[str]:
    """The given keys without repeats, in the taxonomy's order (how they are stored)."""
    wanted = set(keys)
    return [reason.key for reason in reasons_for(category_slug) if reason.key in wanted]


def reason_names(category_slug: str, keys: Sequence[str]) -> list[str]:
    """Human-readable names for stored reason keys, in the taxonomy's order."""
    names = {reason.key: reason.name for reason in reasons_for(category_slug)}
    return [names[key] for key in ordered_reasons(category_slug, keys)]
