"""UK postcodes: the Royal Mail letter rules, normalising what residents type, outward codes, and
which neighbouring council to send a resident to when a postcode is not a Lewisham one."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geo.gazetteer import Gazetteer


# Postcodes

# The Royal Mail / BS 7666 letter rules, so that "SE6 4CU" or "QE6 4JU" are rejected instead of
# being looked up: letters never used in each position are left out of the classes.
_A1 = "[A-PR-UWYZ]"  # first letter: not Q, V, X
_A2 = "[A-HK-Y]"  # second letter: not I, J, Z
_A3 = "[A-HJKPSTUW]"  # letter after the digit in A9A outward codes (W1A)
_A4 = "[ABEHMNPRVWXY]"  # letter after the digit in AA9A outward codes (EC1A, SW1A)
_OUTWARD = rf"(?:{_A1}[0-9]{{1,2}}|{_A1}{_A2}[0-9]{{1,2}}|{_A1}[0-9]{_A3}|{_A1}{_A2}[0-9]{_A4})"
_INWARD = "[0-9][ABD-HJLNP-UW-Z]{2}"  # never C, I, K, M, O, V
_FULL_RE = re.compile(rf"(?:(?P<out>{_OUTWARD})(?P<in>{_INWARD})|(?P<gir>GIR)(?P<gin>0AA))")
_OUTWARD_RE = re.compile(_OUTWARD)
PARTIAL_POSTCODE_RE = re.compile(rf"(?P<out>{_OUTWARD})(?P<in>[0-9][ABD-HJLNP-UW-Z]?)")
EMBEDDED_POSTCODE_RE = re.compile(rf"\b({_OUTWARD})\s*({_INWARD})\b")
_MAX_POSTCODE_INPUT = 24  # a postcode with generous padding; longer text is not a postcode


def compact_postcode(text: str) -> str | None:
    """Upper-case ASCII with every kind of whitespace removed, or None for non-ASCII text."""
    if len(text) > _MAX_POSTCODE_INPUT:
        return None
    squeezed = "".join(ch for ch in text if not ch.isspace())
    # Non-ASCII letters must not sneak in through case mapping ("ſ".upper() == "S").
    if not squeezed.isascii():
        return None
    return squeezed.upper()


def normalise_postcode(text: str) -> str | None:
    """Return the canonical full UK postcode ("SE6 4JU") for any spacing or case, else None."""
    compact = compact_postcode(text)
    if not compact:
        return None
    m = _FULL_RE.fullmatch(compact)
    if m is None:
        return None
    if m.group("gir"):
        return "GIR 0AA"
    return f"{m.group('out')} {m.group('in')}"


def outward_code(text: str) -> str | None:
    """Return the outward code ("SE6") of an outward code or a full postcode, else None."""
    full = normalise_postcode(text)
    if full is not None:
        return full.split(" ")[0]
    stripped = text.strip()
    # Unlike a full postcode, a lone outward code has no inward part to anchor a split, so
    # inner spaces are not squeezed out: "SE6 4" is a partial postcode, not "SE64".
    if any(ch.isspace() for ch in stripped):
        return None
    compact = compact_postcode(stripped)
    if compact and _OUTWARD_RE.fullmatch(compact):
        return compact
    return None


# Outside the borough

# Which council to send a resident to when their postcode is well-formed but not a Lewisham one.
# Hand-maintained from the local-authority areas of London postal districts (Royal Mail districts
# do not follow borough boundaries); the shipped Code-Point extract holds Lewisham units only, so
# it cannot answer this itself. Districts wholly or almost wholly in Lewisham (SE4, SE6, SE13)
# are absent on purpose: an unknown postcode there is more likely mistyped or terminated than
# somewhere else. Upgrade path: Code-Point Open for the neighbouring boroughs.
NEIGHBOURING_COUNCILS: dict[str, str] = {
    # Royal Borough of Greenwich to the east
    "SE3": "Greenwich",
    "SE7": "Greenwich",
    "SE8": "Greenwich",
    "SE10": "Greenwich",
    "SE18": "Greenwich",
    "SE9": "Greenwich or Bromley",
    "SE12": "Greenwich or Bromley",
    # Southwark to the west (Lambeth beyond it shares some districts)
    "SE14": "Southwark",
    "SE15": "Southwark",
    "SE16": "Southwark",
    "SE17": "Southwark",
    "SE22": "Southwark",
    "SE23": "Southwark",
    "SE1": "Southwark or Lambeth",
    "SE5": "Southwark or Lambeth",
    "SE21": "Southwark or Lambeth",
    "SE24": "Southwark or Lambeth",
    # Bromley to the south
    "BR1": "Bromley",
    "BR2": "Bromley",
    "BR3": "Bromley",
    "SE20": "Bromley",
    "SE26": "Southwark or Bromley",
    "SE19": "Bromley, Croydon, Lambeth or Southwark",
}


# The councils that share a land border with Lewisham, and where each takes reports of street
# problems online (Southwark's go through FixMyStreet, which sends them to the council).
# Which one a point outside Lewisham is in cannot be told offline without their boundaries,
# so a refused point is offered all three; a postcode district names its own above.
NEIGHBOURING_COUNCIL_PAGES = {
    "Southwark": "https://www.fixmystreet.com/",
    "Greenwich": "https://fix.royalgreenwich.gov.uk/",
    "Bromley": "https://fix.bromley.gov.uk/",
}


def neighbouring_councils(message: str) -> list[tuple[str, str]]:
    """The neighbouring councils (name, reporting page) to offer beside a refusal of a place
    outside Lewisham: those the refusal names, else all of them; none for other messages."""
    if "outside Lewisham" not in message and "not a Lewisham postcode" not in message:
        return []
    named = [(n, url) for n, url in NEIGHBOURING_COUNCIL_PAGES.items() if n in message]
    return named or list(NEIGHBOURING_COUNCIL_PAGES.items())


class OutsideBorough:
    """Names the neighbouring council for a postcode (or district) that is not in Lewisham."""

    def __init__(
        self,
        lewisham_postcodes: AbstractSet[str],
        table: dict[str, str] | None = None,
    ) -> None:
        self._lewisham = lewisham_postcodes
        self._table = NEIGHBOURING_COUNCILS if table is None else table

    @classmethod
    def from_gazetteer(cls, gazetteer: Gazetteer) -> OutsideBorough:
        """Use the gazetteer's postcodes as the list of Lewisham postcodes."""
        return cls(gazetteer.postcodes)

    def where_to_report(self, postcode_or_outward: str) -> str | None:
        """Return the neighbouring council(s) to report to, or None (Lewisham, unknown, invalid)."""
        full = normalise_postcode(postcode_or_outward)
        if full is not None and full in self._lewisham:
            return None
        outward = outward_code(postcode_or_outward)
        if outward is None:
            return None
        return self._table.get(outward)
