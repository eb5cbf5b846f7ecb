"""Translation plumbing: strings are extracted, and a new language is picked up from the browser."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo

from safer_streets.web import i18n

ROOT = Path(__file__).resolve().parents[2]


def extracted() -> set[str]:
    method_map = [
        ("safer_streets/**.py", "python"),
        ("templates/**.html", "jinja2"),
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
