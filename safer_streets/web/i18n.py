"""Translation plumbing: Flask-Babel, with the locale chosen by the reader or their browser.

English is the source language. A translation is added by extracting ``messages.pot`` and
initialising a catalogue (see the README); every catalogue in ``translations/`` is offered, and
the pseudo-locale too when the settings ask for it.
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import IO
from urllib.parse import urlencode

from babel import Locale
from flask import Flask, Response, current_app, request
from flask_babel import Babel, get_locale, gettext

from geo.suntimes import LONDON
from safer_streets import pseudo_locale

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
SOURCE_LOCALE = "en"
# The compiled pseudo-locale is made from messages.pot, not kept in git.
PSEUDO_CACHE = Path(tempfile.gettempdir()) / "safer-streets-pseudo-locale"
LANGUAGE_COOKIE = "lang"
LANGUAGE_COOKIE_AGE = timedelta(days=365)


@cache
def available_locales(directories: str = str(TRANSLATIONS)) -> tuple[str, ...]:
    """English plus every language with a compiled catalogue in ``directories`` (separated by
    ``;``, as Flask-Babel's setting is)."""
    found = sorted(
        {
            path.parent.parent.name
            for directory in directories.split(";")
            for path in Path(directory).glob("*/LC_MESSAGES/messages.mo")
        }
    )
    return (SOURCE_LOCALE, *(code for code in found if code != SOURCE_LOCALE))


def offered_locales() -> tuple[str, ...]:
    return available_locales(current_app.config["BABEL_TRANSLATION_DIRECTORIES"])


def chosen_locale(value: str | None) -> str | None:
    """The available locale ``value`` names (``pl``, ``pt-BR``, ``pt_br``), or None: a cookie
    or a link may carry anything."""
    if not value:
        return None
    wanted = value.strip().replace("-", "_").lower()
    return next((code for code in offered_locales() if code.lower() == wanted), None)


def select_locale() -> str:
    """The language the reader chose (``?lang=`` or its cookie), else the best match for the
    browser's Accept-Language among the real translations."""
    for value in (request.args.get(LANGUAGE_COOKIE), request.cookies.get(LANGUAGE_COOKIE)):
        if chosen := chosen_locale(value):
            return chosen
    # The pseudo-locale is for checking the pages, never a browser's preference.
    browsers = [code for code in offered_locales() if code != pseudo_locale.LOCALE]
    return request.accept_languages.best_match(browsers) or SOURCE_LOCALE


@dataclass(frozen=True)
class Language:
    code: str
    tag: str
    name: str
    href: str
    current: bool


def language_name(code: str) -> str:
    """A language's name in that language, as a reader of it looks for it."""
    if code == pseudo_locale.LOCALE:
        return pseudo_locale.pseudo("English (pseudo-translated)")
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def language_choices() -> list[Language]:
    """The footer's languages, each a link to this page in it (a plain GET, no JavaScript).

    The links are relative, query only: the page's address is not written into it again, so
    a refusal (404, 429) never shows a reference it was asked about."""
    current = str(get_locale())
    choices = []
    for code in offered_locales():
        args = request.args.copy()
        args[LANGUAGE_COOKIE] = code
        href = f"?{urlencode(list(args.items(multi=True)))}"
        tag = code.replace("_", "-")
        choices.append(Language(code, tag, language_name(code), href, code == current))
    return choices


def remember_language(response: Response) -> Response:
    """Keep a language chosen with ``?lang=`` for the reader's next pages."""
    if chosen := chosen_locale(request.args.get(LANGUAGE_COOKIE)):
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=LANGUAGE_COOKIE_AGE,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    # A shared cache must not hand one reader's language to another.
    response.vary.update(("Accept-Language", "Cookie"))
    return response


def text_direction(locale: str | Locale) -> str:
    """``rtl`` for right-to-left languages (e.g. Arabic, Urdu), otherwise ``ltr``."""
    return Locale.parse(str(locale)).text_direction


def init_app(app: Flask, *, pseudo: bool = False) -> None:
    """Set up Flask-Babel on the app with our catalogues and locale selector; with ``pseudo``,
    also the pseudo-locale, compiled now from the current messages.pot."""
    directories = [str(TRANSLATIONS)]
    if pseudo:
        pot = TRANSLATIONS / "messages.pot"
        directories.append(str(pseudo_locale.write_catalogue(pot, PSEUDO_CACHE)))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", SOURCE_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", LONDON.key)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join(directories))
    Babel(app, locale_selector=select_locale)
    app.after_request(remember_language)
    app.jinja_env.globals.update(
        get_locale=get_locale, text_direction=text_direction, language_choices=language_choices
    )
    # For words marked elsewhere (category names from the seed, the policy's tables) and for
    # code that builds words with a gettext function: plain text, which Jinja escapes, where
    # the template's own ``_`` returns markup, so ``_(variable)`` would not escape the words.
    app.jinja_env.filters["gettext"] = gettext
    app.jinja_env.globals["plain_gettext"] = gettext


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
