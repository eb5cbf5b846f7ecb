"""Where to go after signing in: only ever a page of this site."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, urlsplit

# Longer than any page of ours with its filters; a longer target is not one we made.
MAX_NEXT_CHARS = 2000
# Printable ASCII stays as it is (including "%", so what is encoded stays encoded); spaces and
# other letters are percent-encoded, as a browser would send them.
_KEEP = "".join(chr(code) for code in range(0x21, 0x7F))


def _control(char: str) -> bool:
    # Browsers drop tab, CR and LF from URLs ("/\t/evil.example" is "//evil.example" to them)
    # and a header cannot hold CR or LF; line and paragraph separators are as bad.
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def landing_endpoint(role: str) -> str:
    """The page a user lands on after signing in when no page was asked for: the board for
    board members, whose work is there; the triage queue for everyone else."""
    return "board.page" if role == "board" else "casework.queue"


def safe_next(target: str | None) -> str | None:
    """``target`` as a path on this site to redirect to, or None when it is anything else:
    another site (a scheme, ``//host``, a backslash, which browsers read as a slash), a
    relative path, or text with control characters."""
    if not target or len(target) > MAX_NEXT_CHARS:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(_control(char) for char in target):
        return None
    path = quote(target, safe=_KEEP)
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return None
    return path
