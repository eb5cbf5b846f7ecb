"""What the edges accept: the bounds on dates, whole numbers and JSON bodies that every channel
applies before anything is stored, queried or parsed deeply.

Flask-free, so the resident form, the JSON API, Open311, the CSV import and the worker share one
definition and refuse alike. Each bound exists because something downstream breaks without it:
a datetime at the edge of Python's range overflows when moved to London time, a page number
past PostgreSQL's bigint fails the query, and a deeply nested JSON body exhausts the parser's
recursion before any validation sees it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from safer_streets.errors import BadRequest, InvalidInput

# ---- Dates and times -------------------------------------------------------------------------

# Nothing Safer Streets handles happened before this; older times are typing mistakes (or
# attacks on datetime's range), never history someone is reporting.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# A phone's clock may run a little ahead of ours: "a minute from now" is not the future.
CLOCK_SKEW = timedelta(minutes=5)
# Open311 date filters: wide enough for any honest window, narrow enough that adding or
# subtracting the 90-day span can never leave datetime's range.
FILTER_LATEST = datetime(2100, 1, 1, tzinfo=UTC)

TOO_EARLY = f"must be on or after {EARLIEST:%Y-%m-%d}"
IN_FUTURE = "cannot be in the future"


class OutOfBounds(ValueError):
    """A value outside what is accepted; the message says what is (pydantic shows it as is)."""


def to_utc(value: datetime) -> datetime | None:
    """An aware datetime in UTC, or None when it has no UTC equivalent in Python's range
    (``0001-01-01T00:00:00+14:00`` is in year 0 in UTC)."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _side(value: datetime, earliest: datetime, latest: datetime) -> int:
    """-1 before ``earliest``, 1 after ``latest``, 0 within; never overflows."""
    utc = to_utc(value)
    if utc is None:
        # Only the ends of year 1 and year 9999 fail to convert: the year tells which end.
        return -1 if value.year < earliest.year else 1
    if utc < earliest:
        return -1
    return 1 if utc > latest else 0


def check_occurred_at(value: datetime, *, now: datetime) -> datetime:
    """When something happened, as a reporter may say it: on or after 2000-01-01 and no later
    than a few minutes from ``now``. Returns ``value``; raises ``OutOfBounds`` otherwise."""
    side = _side(value, EARLIEST, now + CLOCK_SKEW)
    if side < 0:
        raise OutOfBounds(TOO_EARLY)
    if side > 0:
        raise OutOfBounds(IN_FUTURE)
    return value


def stated_occurred_at(value: datetime | None) -> datetime | None:
    """ "When it happened" as a form or API gives it (a Pydantic validator): with a time zone,
    and within ``check_occurred_at``'s bounds. Out-of-range times are refused here, on every
    channel, rather than overflowing when the worker or a page moves them to London time."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-11-24T21:30:00Z")
    return check_occurred_at(value, now=datetime.now(UTC))


def plausible_occurred_at(value: datetime | None, *, received: datetime) -> bool:
    """Whether a stored "when it happened" can be trusted for time-of-day rules: within the
    bounds intake enforces, relative to when the report was received. Reports stored before
    those bounds existed may hold anything."""
    return value is not None and _side(value, EARLIEST, received + CLOCK_SKEW) == 0


def check_filter_datetime(value: datetime) -> datetime:
    """A date filter (Open311 ``start_date``, ``end_date``, ``updated_datetime``) within
    2000-01-01 to 2100-01-01; raises ``OutOfBounds`` otherwise."""
    if _side(value, EARLIEST, FILTER_LATEST):
        raise OutOfBounds(f"must be between {EARLIEST:%Y-%m-%d} and {FILTER_LATEST:%Y-%m-%d}")
    return value


# ---- Whole numbers ---------------------------------------------------------------------------

# PostgreSQL's integer ids: a larger number can never name a row, and some queries refuse it.
MAX_ID = 2**31 - 1
# Enough digits for any bound here; more is refused before int() is asked to read them
# (Python refuses over 4,300 digits with an error of its own).
_MAX_DIGITS = 18


def whole_number(raw: str | None) -> int | None:
    """ASCII digits as an int no larger than a bigint, else None (``"²"`` and ``"٣"`` are
    digits to ``str.isdigit`` but not numbers anyone meant)."""
    text = (raw or "").strip()
    if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def parse_int(name: str, raw: str | None, *, default: int, minimum: int = 1, maximum: int) -> int:
    """An integer parameter: ``default`` when absent or blank, else a whole number from
    ``minimum`` to ``maximum``; raises ``InvalidInput`` naming ``name`` and the bound missed."""
    text = (raw or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput({name: f"must be a whole number from {minimum}"})
    if len(text) > _MAX_DIGITS or int(text) > maximum:
        raise InvalidInput({name: f"must be at most {maximum}"})
    if int(text) < minimum:
        raise InvalidInput({name: f"must be a whole number from {minimum}"})
    return int(text)


# ---- JSON bodies -----------------------------------------------------------------------------

# A report is a flat object of short fields (the description is at most 4,000 characters,
# 24 KB even with every character escaped): anything near this size is not a report.
MAX_JSON_BYTES = 64 * 1024
# A report nests two levels (the object and its reasons); Python's parser recurses once per
# level and fails with RecursionError near 1,000.
MAX_JSON_DEPTH = 32

NOT_JSON = "the body is not valid JSON"
# Inside a string an escaped backslash or quote is not structure; removing the pairs left to
# right, as a JSON reader reads them, leaves strings with no quote inside.
_ESCAPED_BACKSLASH = "\\\\"
_ESCAPED_QUOTE = '\\"'
# Linear: with escapes gone, a string is a quote, non-quotes and a quote.
_STRINGS = re.compile(r'"[^"]*"')
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text, from brackets outside strings, without
    parsing it. Exact for valid JSON; for invalid JSON some number the parser will refuse
    anyway. Linear in the length of ``text``."""
    bare = text.replace(_ESCAPED_BACKSLASH, "").replace(_ESCAPED_QUOTE, "")
    steps = (_STEP[b] for b in _BRACKETS.findall(_STRINGS.sub("", bare)))
    return max(accumulate(steps, initial=0))


def check_json_size(length: int, *, max_bytes: int = MAX_JSON_BYTES) -> None:
    """Refuse a JSON body over ``max_bytes`` (``BadRequest``, a 400), before reading it."""
    if length > max_bytes:
        raise BadRequest(f"the JSON body is too large: at most {max_bytes:,} bytes")


def load_json(
    raw: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse a JSON body once its size and nesting are known to be sane; ``BadRequest``
    (a 400) saying which bound it broke, or that it is not JSON."""
    check_json_size(len(raw), max_bytes=max_bytes)
    try:
        # As json.loads does for bytes: UTF-8, -16 or -32, told apart by the first bytes.
        text = raw.decode(json.detect_encoding(raw))
    except (UnicodeDecodeError, LookupError):
        raise BadRequest(NOT_JSON) from None
    if nesting_depth(text) > max_depth:
        raise BadRequest(f"the JSON is nested too deeply: at most {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest(NOT_JSON) from None
