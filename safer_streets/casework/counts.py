"""The queue's counts: exact from ``queue_count`` where its columns answer the filters,
otherwise counted up to ``COUNT_LIMIT`` reports and said as "more than".

``queue_count`` is kept by triggers (migration 0020) in the same transaction as every change
to a report or to whom it is notified, so these counts are never behind what the queue
lists. Which of its rows a user reads is decided by ``access.count_scope``, beside the
``visibility`` rule it mirrors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.orm import Session

from safer_streets.casework.access import Actor, count_scope
from safer_streets.models import QueueCount

# Beyond this many matching reports a filtered queue says "more than 2,000" instead of
# counting them all: an exact count of a search matching most of a million reports reads
# every one of them, counting to 10,000 took 100-500 ms at a million reports, and no one pages
# through forty pages of a search rather than narrowing it.
COUNT_LIMIT = 2_000


@dataclass(frozen=True)
class Counts:
    """Reports per status; ``capped`` when more than ``COUNT_LIMIT`` matched and only the
    first ``COUNT_LIMIT + 1`` were counted, so the figures are lower bounds. ``of``: the
    statuses that were counted (None: every status); the others' figures are unknown."""

    by_status: dict[str, int]
    capped: bool = False
    of: frozenset[str] | None = None

    def figure(self, statuses: Iterable[str]) -> int | None:
        """How many reports have any of ``statuses``, or None where that was not counted."""
        wanted = set(statuses)
        if self.capped or (self.of is not None and not wanted <= self.of):
            return None
        return sum(self.by_status.get(status, 0) for status in wanted)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def stored(
    session: Session, user: Actor, *, category_id: int | None, ward_id: int | None
) -> Counts:
    """Exact counts per status of the reports ``user`` may see, from ``queue_count``."""
    query = (
        select(QueueCount.status, func.sum(QueueCount.n))
        .where(count_scope(user))
        .group_by(QueueCount.status)
    )
    if category_id is not None:
        query = query.where(QueueCount.category_id == category_id)
    if ward_id is not None:
        query = query.where(QueueCount.ward_id == ward_id)
    return Counts({str(status): int(n) for status, n in session.execute(query) if n})


def bounded(session: Session, statuses: Select[tuple[object]]) -> Counts:
    """Counts per status over ``statuses`` (a query of one status column per matching
    report), reading at most ``COUNT_LIMIT + 1`` reports."""
    sample = statuses.limit(COUNT_LIMIT + 1).subquery()
    column: ColumnElement[object] = sample.c[0]
    by_status = {
        str(status): n
        for status, n in session.execute(select(column, func.count()).group_by(column))
    }
    return Counts(by_status, capped=sum(by_status.values()) > COUNT_LIMIT)


def compact(session: Session) -> int:
    """Sum the rows of changes into one row per partner, status, category and ward; the
    number of rows left.

    Only rows this transaction can see are summed and replaced; rows that concurrent
    transactions add meanwhile stay as they are until the next run, so no change is lost or
    counted twice, and no lock stops reports being changed while this runs.
    """
    session.execute(
        text(
            """
            WITH gone AS (
                DELETE FROM queue_count
                RETURNING partner_id, status, category_id, ward_id, n
            )
            INSERT INTO queue_count (partner_id, status, category_id, ward_id, n)
            SELECT partner_id, status, category_id, ward_id, sum(n) FROM gone
            GROUP BY partner_id, status, category_id, ward_id
            HAVING sum(n) <> 0
            """
        )
    )
    return session.scalar(select(func.count()).select_from(QueueCount)) or 0
