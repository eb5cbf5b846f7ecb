"""Atom feeds of public reports, for the same filters as the list (feedgen writes the XML).

Entries carry exactly the public list's rows: category, place label, time at the precision
the policy allows (also in ``<updated>``, so a feed reader learns no finer time than the
page), status in residents' words, and the description only where the public may read it.
Partners' actions for the same ward or town centre are entries too, as /you-said-we-did
shows them (``actions.partner_actions``): dated by the day they were done, no finer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from feedgen.feed import FeedGenerator

from geo.suntimes import LONDON
from safer_streets.actions.partner_actions import ShownAction
from safer_streets.residents.listing import Filters, Row


def atom(
    rows: Sequence[Row],
    filters: Filters,
    *,
    base_url: str,
    feed_url: str,
    page_url: str,
    now: datetime,
    actions: Sequence[ShownAction] = (),
) -> bytes:
    """The Atom document for ``rows`` (newest first) under ``filters``, with ``actions``."""
    base = base_url.rstrip("/")
    feed = FeedGenerator()
    feed.id(feed_url)
    feed.title(f"Safer Streets Lewisham: {filters.describe()}")
    feed.subtitle("New public reports, as the disclosure policy lets anyone see them.")
    feed.author({"name": "Safer Lewisham Partnership"})
    feed.link(href=page_url, rel="alternate", type="text/html")
    feed.link(href=feed_url, rel="self", type="application/atom+xml")
    feed.language("en-GB")
    times = [row.when_value for row in rows if row.when_value is not None]
    times += [_day(action) for action in actions]
    # With no entries the feed changes when asked: nothing private follows from "now".
    feed.updated(max(times) if times else now)
    # feedgen lists entries in reverse order of adding; add oldest first to keep newest first.
    for row in reversed(rows):
        entry = feed.add_entry()
        link = f"{base}/track/{row.reference}"
        entry.id(link)
        place = row.place.label if row.place else "Place not shown"
        entry.title(f"{row.category}: {place}")
        entry.link(href=link, rel="alternate", type="text/html")
        entry.updated(row.when_value or now)
        summary = f"{row.status}. Reported {row.when}."
        if row.description:
            summary += f" “{row.description}”"
        entry.summary(summary)
        entry.category(term=row.category)
    for action in reversed(actions):
        entry = feed.add_entry()
        link = f"{base}/you-said-we-did#action-{action.id}"
        entry.id(link)
        entry.title(f"What the partnership did: {action.title}")
        entry.link(href=link, rel="alternate", type="text/html")
        entry.updated(_day(action))
        count = action.reports
        prompted = (
            "after reports from residents"
            if count.value is None
            else f"after {count} report{'' if count.value == 1 else 's'}"
        )
        entry.summary(f"{action.body} ({action.partner}, {action.place}, {prompted}.)")
        entry.category(term="You said, we did")
    return feed.atom_str(pretty=True)


def _day(action: ShownAction) -> datetime:
    """The day an action was done, as midnight in London: no finer time is known."""
    return datetime(action.done_on.year, action.done_on.month, action.done_on.day, tzinfo=LONDON)
