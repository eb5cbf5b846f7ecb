"""The report form tells residents what will be public in the policy's own sentences."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from safer_streets.disclosure.policy import promises
from safer_streets.models import Category


def groups_on(page: str) -> dict[str, tuple[str, list[str]]]:
    """Each category slug on the form: whether its group is open, and the sentences in it."""
    found = {}
    for attributes, body in re.findall(
        r"<details class=\"promise-group\"([^>]*)>(.*?)</details>", page, re.DOTALL
    ):
        slugs = re.search(r'data-promise-categories="([^"]*)"', attributes).group(1).split()
        sentences = [html.unescape(s) for s in re.findall(r"<li>(.*?)</li>", body)]
        for slug in slugs:
            found[slug] = (" open" in attributes, sentences)
    return found


def category(db_session, slug: str) -> Category:
    return db_session.scalar(select(Category).where(Category.slug == slug))


def test_every_category_the_form_offers_says_what_will_be_public_in_the_policys_words(
    client, db_session
):
    groups = groups_on(client.get("/report").text)
    offered = db_session.scalars(select(Category).where(Category.public)).all()
    assert set(groups) == {c.slug for c in offered}
    for c in offered:
        assert groups[c.slug][1] == promises(c), c.slug
    assert "never shown to the public" in " ".join(groups["weapons"][1])
    assert "spot you choose" in " ".join(groups["fly-tipping"][1])
    assert groups["weapons"][1] != groups["drug-dealing"][1] != groups["fly-tipping"][1]


def test_the_chosen_categorys_words_are_open_without_javascript(client):
    groups = groups_on(client.get("/report?category=drug-dealing").text)
    assert groups["drug-dealing"][0] and groups["anti-social-behaviour"][0]
    assert not groups["weapons"][0] and not groups["fly-tipping"][0]


def test_a_change_to_a_categorys_policy_changes_what_residents_are_told(client, db_session):
    fly_tipping = category(db_session, "fly-tipping")
    fly_tipping.disclosure_listed = False
    db_session.flush()
    page = client.get("/report").text
    assert groups_on(page)["fly-tipping"][1] == promises(fly_tipping)
    hint = re.search(r'id="category-fly-tipping-hint">(.*?)</p>', page, re.DOTALL).group(1)
    assert promises(fly_tipping)[0] in html.unescape(hint)


def test_no_hand_written_promise_contradicts_the_policy(client, db_session):
    page = html.unescape(client.get("/report?category=weapons").text)
    assert "its exact location is never public" not in page
    assert "Metropolitan Police team for the area" not in page
    assert "photo is only seen by the teams" not in page
    hint = re.search(r'id="category-weapons-hint">(.*?)</p>', page, re.DOTALL).group(1)
    assert promises(category(db_session, "weapons"))[0] in hint
    assert 'href="/privacy"' in page
