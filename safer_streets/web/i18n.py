"""Translation plumbing: Flask-Babel, with the locale chosen from the browser's languages.

English is the source language. A translation is added by extracting ``messages.pot`` and
initialising a catalogue (see the README); every catalogue in ``translations/`` is offered.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO

from babel import Locale
from flask import Flask, current_app, request
from flask_babel import Babel, get_locale

from geo.suntimes import LONDON

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
SOURCE_LOCALE = "en"


@cache
def available_locales(directory: str = str(TRANSLATIONS)) -> tuple[str, ...]:
    """English plus every language with a compiled catalogue in ``directory``."""
    found = sorted(
        path.parent.parent.name for path in Path(directory).glob("*/LC_MESSAGES/messages.mo")
    )
    return (SOURCE_LOCALE, *(code for code in found if code != SOURCE_LOCALE))


def select_locale() -> str:
    """The best match for the browser's Accept-Language among the available locales."""
    offered = available_locales(current_app.config["BABEL_TRANSLATION_DIRECTORIES"])
    return request.accept_languages.best_match(offered) or SOURCE_LOCALE


def text_direction(locale: str | Locale) -> str:
    """``rtl`` for right-to-left languages (e.g. Arabic, Urdu), otherwise ``ltr``."""
    return Locale.parse(str(locale)).text_direction


def init_app(app: Flask) -> None:
    """Set up Flask-Babel on the app with our catalogues and locale selector."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", SOURCE_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", LONDON.key)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(get_locale=get_locale, text_direction=text_direction)


def extract_seed(
    fileobj: IO[bytes], keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor (its signature) for ``data/defaults/categories.toml``: names and reasons."""
    data = tomllib.loads(fileobj.read().decode("utf-8"))
    for kind in ("category", "reason"):
        for entry in data.get(kind, []):
            for field in ("name", "description", "label"):
                if entry.get(field):
                    yield 0, "_", entry[field], [f"{kind} {entry.get('slug') or entry['key']}"]
