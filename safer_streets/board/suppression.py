"""Small counts of sensitive categories withheld, consistently, wherever an aggregate is shown."""

from __future__ import annotations

from dataclasses import dataclass

from safer_streets.board.audience import Audience

# -------------------------------------------------------------------- suppression


@dataclass(frozen=True)
class Shown:
    """A count as the viewer may see it: None when withheld, partial when a part is."""

    value: int | None
    partial: bool = False

    def __str__(self) -> str:
        if self.value is None:
            return "withheld"
        return f"{self.value:,}" + ("*" if self.partial else "")


def shown(ordinary: int, sensitive: int, *, audience: Audience, min_count: int) -> Shown:
    """A count of ordinary plus sensitive reports as ``audience`` may see it.

    Outside the board a sensitive part below ``min_count`` is withheld: it is left out of
    the total, which is then marked partial (and withheld entirely when nothing is left).
    """
    if audience is Audience.BOARD or sensitive == 0 or sensitive >= min_count:
        return Shown(ordinary + sensitive)
    if ordinary == 0:
        return Shown(None)
    return Shown(ordinary, partial=True)
