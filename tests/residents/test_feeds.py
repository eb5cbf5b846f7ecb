"""Atom feeds of public reports: valid Atom (RFC 4287) and nothing the public may not see."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"


def alternate(link) -> bool:
    return link.get("rel", "alternate") == "alternate"  # no rel means alternate (4.2.7.2)


def one(parent, name: str):
    found = parent.findall(f"{ATOM}{name}")
    assert len(found) == 1, f"{parent.tag} must have exactly one atom:{name}"
    return found[0]


def check_atom(document: bytes) -> etree._Element:
    """The MUSTs of RFC 4287 for a feed and its entries (sections 4.1.1, 4.1.2, 4.2.6, 3.3)."""
    feed = etree.fromstring(document)
    assert feed.tag == f"{ATOM}feed"
    for element in (feed, *feed.findall(f"{ATOM}entry")):
        identifier = one(element, "id").text
        assert urlsplit(identifier).scheme, "atom:id is an absolute IRI"
        assert one(element, "title").text
        datetime.fromisoformat(one(element, "updated").text)  # a date-time of RFC 3339
        alternates = [link for link in element.findall(f"{ATOM}link") if alternate(link)]
        assert len({(link.get("type"), link.get("hreflang")) for link in alternates}) == len(
            alternates
        )
    assert feed.findall(f"{ATOM}author"), "a feed-level author covers every entry"
    for entry in feed.findall(f"{ATOM}entry"):
        # No atom:content, so an alternate link and a summary are required.
        assert any(alternate(link) for link in entry.findall(f"{ATOM}link"))
        one(entry, "summary")
    return feed


def test_the_feed_is_atom_with_only_public_reports(client: FlaskClient, kinds):
    response = client.get("/around/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = check_atom(response.data)
    text = response.data.decode()
    links = {entry.find(f"{ATOM}link").get("href") for entry in feed.findall(f"{ATOM}entry")}
    for shown in ("fly-tipping", "drug-dealing"):
        assert f"http://safer-streets.test/track/{kinds[shown].reference}" in links
    for hidden in ("harassment", "held"):
        assert kinds[hidden].reference not in text
    assert "followed me" not in text and "AB12" not in text and "Held for review" not in text
    assert "On or near" in text  # the safety report's police.uk street point
    # A safety report's time is the day only, in the feed's dates too.
    drugs = next(
        e
        for e in feed.findall(f"{ATOM}entry")
        if kinds["drug-dealing"].reference in e.findtext(f"{ATOM}id")
    )
    assert drugs.findtext(f"{ATOM}updated").endswith("T00:00:00+00:00") or drugs.findtext(
        f"{ATOM}updated"
    ).endswith("T00:00:00+01:00")


def test_the_feed_follows_the_filters(client: FlaskClient, kinds):
    feed = check_atom(client.get("/around/feed.atom?category=fly-tipping&ward=rushey-green").data)
    ids = [entry.findtext(f"{ATOM}id") for entry in feed.findall(f"{ATOM}entry")]
    assert ids == [f"http://safer-streets.test/track/{kinds['fly-tipping'].reference}"]
    assert "Fly-tipping in Rushey Green ward" in feed.findtext(f"{ATOM}title")
    assert 'type="application/atom+xml"' in client.get("/around?category=fly-tipping").text


def test_an_empty_feed_is_still_valid_atom(client: FlaskClient):
    check_atom(client.get("/around/feed.atom?category=street-lighting&days=7").data)
