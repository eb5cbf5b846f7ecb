"""Plain-text emails rendered from ``templates/``: the first line is the subject, the rest the
body.

One environment renders every feature's emails. It carries Jinja's i18n extension, so the words
residents read in an email are marked for translators as the pages' words are, and extracted
into the same catalogue.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from geo.suntimes import london_time

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 - plain-text email, never HTML
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# Emails go out in English: a recipient's language is not recorded yet. The marked words are
# in the catalogue, so a translated email needs only the translations installed here.
_environment.install_null_translations(newstyle=True)
_environment.filters["london"] = london_time


def _long_date(value: date) -> str:
    """A date as residents read it elsewhere: "3 December 2026"."""
    return format_date(value, "d MMMM y", locale="en_GB")


_environment.filters["long_date"] = _long_date


def render_email(template: str, **context: Any) -> tuple[str, str]:
    """Render ``templates/<template>.txt`` into its subject and body."""
    rendered = _environment.get_template(f"{template}.txt").render(**context)
    subject, _, body = rendered.partition("\n")
    return subject.removeprefix("Subject:").strip(), body.lstrip("\n")
