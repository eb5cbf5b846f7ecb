"""Reasons within a category (StreetSafe's "why does this place feel unsafe?").

One definition, the ``reason`` table that admins edit at ``/admin/reasons``, shared by the
resident form, the APIs (Open311 shows them as the ``reasons`` attribute of a service), routing
conditions, the board and every page that shows a report. Keys are a contract with every client
and with stored reports (``Report.reasons``): never renamed. A retired reason is no longer
offered but keeps its label wherever an old report or a routing rule names it. The first
reasons followed police.uk StreetSafe's lists (https://www.police.uk/streetsafe).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import literal_column, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from safer_streets.models import Category, CategoryReason, RoutingDataVersion


@dataclass(frozen=True)
class Reason:
    """One answer to "what makes this place a problem?"."""

    category: str
    key: str
    label: str
    help: str = ""
    position: int = 0
    retired: bool = False


# The reasons are read on most pages and for every report shown, and change a few times a year:
# one copy per process, checked against the routing data version that the ``reason`` table's
# trigger raises. The row's xmin (the transaction that last wrote it) goes into the stamp too, so
# that a version number reached again after a rolled-back change never passes for the same data.
_STAMP = select(RoutingDataVersion.version, literal_column("xmin::text"))
_loaded: tuple[tuple[int, str], tuple[Reason, ...]] | None = None
# Within one transaction the reasons are read once; ``forget`` drops that copy after a change.
_MEMO = "safer_streets.taxonomy"
# Intake stores reports on a plain connection; everything else reads through a session.
Reader = Session | Connection


def version(session: Reader) -> tuple[int, str]:
    """A stamp that moves whenever a category or a reason changes (the routing data version
    the tables' triggers raise, with the transaction that last raised it)."""
    number, xmin = session.execute(_STAMP).one()
    return number, xmin


def all_reasons(session: Reader) -> tuple[Reason, ...]:
    """Every reason of every category, retired ones too, in display order."""
    global _loaded
    transaction = session.get_transaction()
    memo = session.info.get(_MEMO)
    if transaction is not None and memo is not None and memo[0] is transaction:
        return memo[1]
    stamp = version(session)
    loaded = _loaded
    if loaded is None or loaded[0] != stamp:
        loaded = _loaded = (stamp, _load(session))
    session.info[_MEMO] = (session.get_transaction(), loaded[1])
    return loaded[1]


def _load(session: Reader) -> tuple[Reason, ...]:
    rows = session.execute(
        select(
            Category.slug,
            CategoryReason.key,
            CategoryReason.label,
            CategoryReason.help,
            CategoryReason.position,
            CategoryReason.retired,
        )
        .join(Category, Category.id == CategoryReason.category_id)
        .order_by(Category.position, Category.slug, CategoryReason.position, CategoryReason.key)
    )
    return tuple(Reason(*row) for row in rows)


def forget(session: Session) -> None:
    """Read the reasons afresh in this transaction: call after changing them."""
    session.info.pop(_MEMO, None)


def reasons_for(session: Reader, category_slug: str) -> tuple[Reason, ...]:
    """The reasons a resident may tick for a category (none for most categories)."""
    return tuple(r for r in all_reasons(session) if r.category == category_slug and not r.retired)


def invalid_reasons(session: Reader, category_slug: str, keys: Iterable[str]) -> list[str]:
    """The keys that are not reasons offered for this category (retired ones included)."""
    keys = list(keys)
    if not keys:
        return []  # most reports give none: no need to read the reasons
    allowed = {r.key for r in reasons_for(session, category_slug)}
    return [key for key in keys if key not in allowed]


def labels_by_key(session: Reader) -> dict[tuple[str, str], str]:
    """Every reason's label, retired ones too, by (category slug, key)."""
    return {(r.category, r.key): r.label for r in all_reasons(session)}


def reason_labels(session: Reader, category_slug: str, keys: Iterable[str]) -> list[str]:
    """Labels of stored reason keys, retired ones too, in the taxonomy's order."""
    wanted = set(keys)
    return [
        r.label for r in all_reasons(session) if r.category == category_slug and r.key in wanted
    ]


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
