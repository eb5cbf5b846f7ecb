"""Every resident's page in the pseudo-locale: a word a reader sees that is not pseudo-translated
was never marked for translation (or messages.pot is out of date)."""

from __future__ import annotations

import re

import lxml.html
import pytest

from safer_streets.accounts import users
from safer_streets.intake import tracking
from safer_streets.models import ReportStatus, Role
from safer_streets.pseudo_locale import LOCALE
from tests.board_data import CATFORD, add_reports, around
from tests.helpers import PASSWORD, PASSWORDS, login

RESOLVED = ReportStatus.RESOLVED

# What residents reach without signing in, by its GET address ({ref}: a routed report's).
RESIDENT_PAGES = [
    "/",
    "/report",
    "/report?category=drug-dealing",
    "/report?category=street-lighting",
    "/report/{ref}/sent",
    "/report/{ref}/supported",
    "/track",
    "/track/{ref}",
    "{private}",
    "/track/SSL-NOPE-NOPE",
    "/around",
    "/alerts/new",
    "/alerts/sent",
    "/alerts/confirm/not-a-real-link",
    "/you-said-we-did",
    "/privacy",
    "/contact",
    "/accessibility",
    "/no-such-page",
]
# Two or more ASCII letters together: the pseudo-locale turns every letter of a message into
# an accented one, so these come from markup or data, never from a translated message.
ENGLISH = re.compile(r"[A-Za-z]{2,}")
# A pseudo-translated message, "[" to " ··]". What is inside it and still English is the value of
# one of its placeholders (a reference, a partner's name): data, by the message's own say.
MESSAGE = re.compile(r"\[[^\[]*? ·[· ]*\]", re.DOTALL)
VISIBLE_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder")
UNSEEN = {"script", "style", "template"}


def is_data(element: lxml.html.HtmlElement) -> bool:
    """Text that is nobody's to translate: marked ``translate="no"`` (references, street and
    ward names, partners, what residents wrote), in a language of its own (``lang``, as the
    language switcher's names are), a ``<time>``, which Babel's locale data formats, or what
    the reader typed."""
    return (
        element.tag in ("time", "textarea")  # a textarea holds what the reader typed
        or element.get("translate") == "no"
        or (element.get("lang") is not None and element.tag != "html")
    )


def english_in(text: str) -> list[str]:
    """The pieces of ``text`` (split at tags, "\\0") outside its pseudo-translated messages
    that hold English words."""
    pieces = MESSAGE.sub("\0", text).split("\0")
    return [" ".join(piece.split()) for piece in pieces if ENGLISH.search(piece)]


def untranslated(html: str) -> list[str]:
    """Visible text of ``html`` (text and the attributes readers see or hear) with English words
    in it, outside data. The text is read as a whole, as messages may hold tags."""
    text: list[str] = []
    found: list[str] = []

    def walk(element: lxml.html.HtmlElement) -> None:
        if not isinstance(element.tag, str) or element.tag in UNSEEN or is_data(element):
            text.append("\0")
            return
        text.append("\0" + (element.text or ""))
        for name in VISIBLE_ATTRIBUTES:
            found.extend(f"{element.tag} {name}: {w}" for w in english_in(element.get(name) or ""))
        if element.tag == "input" and element.get("type") in ("submit", "button", "reset"):
            found.extend(f"input value: {w}" for w in english_in(element.get("value") or ""))
        for child in element:
            walk(child)
            text.append("\0" + (child.tail or ""))  # a child's tail is its parent's text

    walk(lxml.html.document_fromstring(html))
    return found + english_in("".join(text))


def test_the_checker_tells_marked_text_from_unmarked():
    page = (
        '<html lang="en-001"><head><title>[Ţŕáçķ ·]</title></head><body>'
        '<p>[Ŕéƥöŕţ <span translate="no">SSL-AB12</span> ·] Report</p>'
        "<p>[Šéñţ ţö <strong>Lewisham Council</strong> ··]</p>"
        '<img alt="A map"><a lang="en">English</a><script>var x = "no";</script>'
        '<p title="[Ţ ·]"><time>12 May 2026</time></p><p>3 May</p></body></html>'
    )
    assert untranslated(page) == ["img alt: A map", "Report", "3 May"]


@pytest.mark.parametrize("page", RESIDENT_PAGES)
def test_every_word_on_a_residents_page_is_translated(
    page, client, db_session, routed_report, settings
):
    report = routed_report(db_session, category="fly-tipping", location_text="Rushey Green")
    address = page.format(
        ref=report.reference, private=tracking.tracking_path(settings.secret_key, report.reference)
    )
    client.set_cookie("lang", LOCALE)
    response = client.get(address)
    assert response.status_code in (200, 404), address
    assert f'<html lang="{LOCALE.replace("_", "-")}"' in response.text
    problems = untranslated(response.text)
    assert not problems, "not translated:\n" + "\n".join(problems)


def test_a_published_summary_is_translated_but_its_wards_and_actions(app, client, db_session):
    add_reports(db_session, "fly-tipping", around(CATFORD, 6, seed=10), status=RESOLVED)
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="board@i18n.test",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )
    member = app.test_client()
    login(member, "board@i18n.test")
    assert member.post("/board/you-said-we-did", data={"period": "12m"}).status_code == 303
    client.set_cookie("lang", LOCALE)
    page = client.get("/you-said-we-did").text
    assert "Rushey Green" in page
    assert untranslated(page) == []


@pytest.mark.parametrize(
    ("page", "form"),
    [
        ("/report", {}),
        ("/report", {"category": "fly-tipping", "description": "x" * 100_000}),
        ("/alerts/new", {"email": "not an address", "where": "distance", "radius": "9"}),
        ("/alerts/new", {"category": "nope", "frequency": "hourly"}),
        ("/alerts/new", {"where": "ward"}),
        ("/alerts/new", {"where": "area"}),
    ],
)
def test_a_refused_form_says_what_is_wrong_in_the_readers_language(page, form, client):
    client.set_cookie("lang", LOCALE)
    response = client.post(page, data=form)
    assert 400 <= response.status_code < 500
    assert untranslated(response.text) == []
