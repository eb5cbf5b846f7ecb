"""A pseudo-translation of the English catalogue, for finding what is not marked for translation.

Every ASCII letter of a message becomes an accented look-alike and the message grows by about
a third inside ``[… ····· ··]``: still readable, yet visibly "translated", and as long as German
or Polish tend to run, so that a page which only fits in English shows it. Placeholders
(``%(name)s``, ``%s``, ``{name}``), HTML tags and entities stay exactly as they are, or the
pages would break for reasons no real translation causes.

The locale code is ``en_001`` ("English, world"): the ``en-XA`` that Android and Chrome use is
not in Babel's CLDR data, and Flask-Babel gives every locale to ``babel.Locale.parse``. No
browser is matched to it by its Accept-Language; only the language switcher chooses it.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = "en_001"
PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ACCENTED = "áƀçðéƒĝĥîĵķļɱñöƥǫŕšţûṽŵẋýžÁƁÇÐÉƑĜĤÎĴĶĻṀÑÖƤǪŔŠŢÛṼŴẊÝŽ"
_TO_PSEUDO = str.maketrans(PLAIN, ACCENTED)
_FROM_PSEUDO = str.maketrans(ACCENTED, PLAIN)
# What a translator must leave as it is: printf placeholders (named and positional), format()
# fields, HTML tags and character references.
PROTECTED = re.compile(
    r"%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]"
    r"|\{[^{}]*\}"
    r"|<[^<>]*>"
    r"|&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);"
)
PAD = "·"


def padding(length: int) -> str:
    """``length`` characters of dots in groups of five: a translation's words can wrap, and a
    run of dots as long as a paragraph's third could not."""
    return "".join(" " if i % 6 == 5 and i < length - 1 else PAD for i in range(length))


def _padding_length(length: int) -> int:
    # "[", " " and "]" add three; the dots make up the rest of the third, and at least one
    # stays so that the end of a message is always visible.
    return max(1, math.ceil(length * 0.3) - 3)


def protected_parts(text: str) -> list[str]:
    """The placeholders, tags and entities of ``text``, in order."""
    return PROTECTED.findall(text)


def pseudo(text: str) -> str:
    """``text`` with its letters accented and padded to at least 1.3 times its length."""
    if not text:
        return text
    body, start = [], 0
    for match in PROTECTED.finditer(text):
        body.append(text[start : match.start()].translate(_TO_PSEUDO))
        body.append(match.group())
        start = match.end()
    body.append(text[start:].translate(_TO_PSEUDO))
    return f"[{''.join(body)} {padding(_padding_length(len(text)))}]"


def unpseudo(text: str) -> str:
    """The English that :func:`pseudo` made ``text`` from (for messages that are English)."""
    # Letters are replaced one for one, so the English is as long as the body: the one length
    # whose padding fills the rest is the body's.
    length = next((n for n in range(len(text)) if n + _padding_length(n) + 3 == len(text)), None)
    if (
        length is None
        or not text.startswith("[")
        or text[length + 1 :] != (f" {padding(_padding_length(length))}]")
    ):
        return text
    body, parts, start = text[1 : length + 1], [], 0
    for match in PROTECTED.finditer(body):
        parts.append(body[start : match.start()].translate(_FROM_PSEUDO))
        parts.append(match.group())
        start = match.end()
    parts.append(body[start:].translate(_FROM_PSEUDO))
    return "".join(parts)


def catalogue(pot: bytes) -> bytes:
    """A compiled (.mo) catalogue translating every message of ``pot`` into the pseudo-locale."""
    catalog = read_po(io.BytesIO(pot), locale=LOCALE)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            message.string = tuple(pseudo(form) for form in message.id)
        else:
            message.string = pseudo(message.id)
        message.flags.discard("fuzzy")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def write_catalogue(pot_path: Path, cache: Path) -> Path:
    """Compile the pseudo-locale from ``pot_path`` under ``cache``; returns the directory to
    add to the translation directories.

    The directory is named after a hash of the template and of this module, so a changed
    template or translation gets a fresh catalogue, and several processes starting at once
    each write theirs whole before renaming it into place.
    """
    pot = pot_path.read_bytes()
    directory = cache / hashlib.sha256(pot + Path(__file__).read_bytes()).hexdigest()[:16]
    target = directory / LOCALE / "LC_MESSAGES" / "messages.mo"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"messages.mo.{os.getpid()}")
        partial.write_bytes(catalogue(pot))
        os.replace(partial, target)
    return directory
