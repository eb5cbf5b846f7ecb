"""Publishing "you said, we did" summaries for the public page."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from safer_streets.board.audience import Audience, require_board
from safer_streets.board.dashboard import SaidDidLine, you_said_we_did
from safer_streets.board.filters import BoardFilters, TimeOfDay
from safer_streets.board.suppression import Shown
from safer_streets.models import (
    Category,
    PublishedSummary,
    User,
)

# ---------------------------------------------------------------------- publishing


def publish_you_said_we_did(
    session: Session, user: User | None, filters: BoardFilters, *, min_count: int
) -> PublishedSummary:
    """Publish the "you said, we did" summary for residents (board only).

    What is stored is what the public may see: small sensitive counts withheld, no
    individual reports, only public resolution notes of non-sensitive categories.
    """
    actor = require_board(user)
    public_filters = replace(filters, ward=None, area=None, time_of_day=TimeOfDay.ANY)
    entries = you_said_we_did(
        session, public_filters, audience=Audience.PUBLIC, min_count=min_count
    )
    sensitive = set(session.scalars(select(Category.name).where(Category.sensitive)))
    content = {
        "category": filters.category,
        "wards": [
            {
                "ward": entry.ward,
                "lines": [
                    {
                        "category": line.category,
                        "reported": str(line.reported),
                        "resolved": str(
                            _resolved_against_differencing(line, min_count)
                            if line.category in sensitive
                            else line.resolved
                        ),
                    }
                    for line in entry.lines
                ],
                "actions": entry.actions,
            }
            for entry in entries
        ],
        "min_count": min_count,
    }
    summary = PublishedSummary(
        published_by=actor,
        period_start=public_filters.date_from,
        period_end=public_filters.date_to,
        content=content,
    )
    session.add(summary)
    session.flush()
    return summary


def _resolved_against_differencing(line: SaidDidLine, min_count: int) -> Shown:
    """A sensitive category's resolved count, withheld when subtracting it from the reported
    count would give a small count of unresolved reports (7 reported, 5 resolved: 2 open)."""
    reported, resolved = line.reported.value, line.resolved.value
    if reported is not None and resolved is not None and 0 < reported - resolved < min_count:
        return Shown(None)
    return line.resolved


def latest_published(session: Session) -> PublishedSummary | None:
    """The summary residents see now."""
    return session.scalar(select(PublishedSummary).order_by(PublishedSummary.id.desc()).limit(1))
