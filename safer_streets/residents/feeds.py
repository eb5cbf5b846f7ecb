"""Atom feeds of public reports, for the same filters as the list (feedgen writes the XML).

Entries carry exactly the public list's rows: category, place label, time at the precision
the policy allows (also in ``<updated>``, so a feed reader learns no finer time than the
page), status in residents' words, and the description only where the public may read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from feedgen.feed import FeedGenerator

from safer_streets.residents.listing import Filters, Row


def atom(
    rows: Sequence[Row],
    filters: Filters,
    *,
    base_url: str,
    feed_url: str,
    page_url: str,
    now: datetime,
) -> bytes:
    """The Atom document for ``rows`` (newest first) under ``filters``."""
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
    return feed.atom_str(pretty=True)
