"""Translation plumbing: strings are extracted, and a new language is picked up from the browser."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from safer_streets import pseudo_locale
from safer_streets.models import Category
from safer_streets.web import i18n

ROOT = Path(__file__).resolve().parents[2]


def extracted() -> set[str]:
    method_map = [
        ("safer_streets/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
        ("safer_streets/data/defaults/categories.toml", "safer_streets.web.i18n.extract_seed"),
    ]
    return {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map
        )
    }


def test_the_public_pages_strings_are_extracted_for_translators():
    messages = extracted()
    for text in (
        "Report a problem",  # templates
        "Leave this site",
        "In danger now? Call 999.",
        "Choose what the problem is",  # Python
        "Harassment of women and girls",  # seed data: categories and reasons
        "Badly lit",
        "Is it fixed? Your report %(reference)s",  # residents' emails
        "Stop these emails (one click, no sign-in):",
    ):
        assert text in messages, text


def test_a_new_language_is_offered_to_browsers_that_ask_for_it(tmp_path, settings, engine):
    catalog = Catalog(locale="pl")
    catalog.add("Report a problem", "Zgłoś problem")
    catalog.add("Leave this site", "Opuść stronę")
    folder = tmp_path / "pl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    (folder / "messages.mo").write_bytes(buffer.getvalue())

    from safer_streets.web.app import create_app

    app = create_app(settings)
    # As if the catalogue had been compiled into safer_streets/translations/.
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path)
    app.extensions["babel"].translation_directories = [str(tmp_path)]
    assert i18n.available_locales(str(tmp_path)) == ("en", "pl")
    client = app.test_client()
    polish = client.get("/report", headers={"Accept-Language": "pl-PL, pl;q=0.9, en;q=0.5"})
    assert '<html lang="pl" dir="ltr">' in polish.text
    assert "Zgłoś problem" in polish.text and "Opuść stronę" in polish.text
    english = client.get("/report", headers={"Accept-Language": "fr, en-GB;q=0.8"})
    assert '<html lang="en"' in english.text and "Report a problem" in english.text
    app.extensions["safer_streets"].dispose()


def test_messages_pot_holds_every_marked_message():
    """The pseudo-locale and translators work from messages.pot: a message marked since the
    last `pybabel extract` would go untranslated."""
    with (ROOT / "safer_streets" / "translations" / "messages.pot").open("rb") as file:
        pot = read_po(file)
    in_pot = {m.id if isinstance(m.id, str) else m.id[0] for m in pot if m.id}
    assert extracted() - in_pot == set(), "run pybabel extract (see the README)"


def test_a_reader_chooses_the_language_and_it_is_remembered(client):
    footer = client.get("/track", headers={"Accept-Language": "en"}).text
    # Each language by its own name, as a plain link: no JavaScript needed.
    assert '<a href="?lang=en" lang="en" hreflang="en" aria-current="true">English</a>' in (footer)
    pseudo_name = pseudo_locale.pseudo("English (pseudo-translated)")
    assert f'lang="en-001" hreflang="en-001">{pseudo_name}</a>' in footer

    chosen = client.get("/track?lang=en-001", headers={"Accept-Language": "en"})
    assert '<html lang="en-001"' in chosen.text
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en_001" and cookie.http_only
    assert "Cookie" in chosen.headers["Vary"] and "Accept-Language" in chosen.headers["Vary"]
    # The choice outranks the browser's languages on the next pages.
    later = client.get("/privacy", headers={"Accept-Language": "en-GB, en;q=0.9"})
    assert '<html lang="en-001"' in later.text
    back = client.get("/privacy?lang=en")
    assert '<html lang="en"' in back.text and client.get_cookie("lang").value == "en"


def test_an_unknown_language_is_ignored(client):
    for query in (
        "?lang=xx",
        "?lang=",
        "?lang=%E2%80%AE",
        "?lang=../../etc",
        "?lang=" + "a" * 5000,
    ):
        response = client.get("/track" + query, headers={"Accept-Language": "en"})
        assert response.status_code == 200, query
        assert '<html lang="en"' in response.text
        assert client.get_cookie("lang") is None
    client.set_cookie("lang", "klingon")
    assert '<html lang="en"' in client.get("/track").text


def test_browsers_are_never_given_the_pseudo_locale(client):
    page = client.get("/track", headers={"Accept-Language": "en-001, en-XA, en;q=0.1"}).text
    assert '<html lang="en"' in page


def test_the_pseudo_locale_is_offered_only_when_the_settings_say(app_with):
    client = app_with(pseudo_locale=False).test_client()
    page = client.get("/track?lang=en_001").text
    assert '<html lang="en"' in page
    # English alone: nothing to switch between.
    assert 'class="languages"' not in page


def test_the_language_cookie_is_secure_where_the_session_cookie_is(app_with):
    client = app_with(secure_cookies=True).test_client()
    response = client.get("/track?lang=en")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_names_from_the_database_are_escaped_when_translated(client, db_session):
    # Administrators edit category names; a translated name is still text, never markup.
    category = db_session.scalar(select(Category).where(Category.slug == "fly-tipping"))
    category.name = "<b>Fly</b>-tipping"
    db_session.flush()
    page = client.get("/report").text
    assert "&lt;b&gt;Fly&lt;/b&gt;-tipping" in page
    assert "<b>Fly</b>" not in page
