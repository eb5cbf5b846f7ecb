"""The resident's report form: fields as typed, mapped onto a submission, errors in plain words.

No Flask here: the view passes the posted fields and its ``gettext``, so messages are in the
resident's language; without one they are in English, the source language.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, Protocol, overload

from geo.suntimes import LONDON
from safer_streets.bounds import CLOCK_SKEW, TOO_EARLY
from safer_streets.intake.submission import MAX_DESCRIPTION_CHARS
from safer_streets.models import PlacedFrom

WHEN_CHOICES = ("now", "today", "other")
# Every field the form carries between steps (the photo travels separately).
CARRIED_FIELDS = (
    "category",
    "lat",
    "lon",
    "point_from",
    "location_text",
    "when",
    "today_time",
    "occurred_date",
    "occurred_time",
    "description",
    "updates",
    "contact_email",
    "share_details",
)
# Where each field's error is shown, in page order; the anchor is the id of the control.
ERROR_ORDER = (
    "location_text",
    "category",
    "reasons",
    "when",
    "today_time",
    "occurred_date",
    "occurred_time",
    "description",
    "photo",
    "updates",
    "contact_email",
)

# Translates a message (Flask-Babel's ``gettext`` in the web); the message's placeholders are
# filled in afterwards, so a translation may move them.
Gettext = Callable[[str], str]


def untranslated(message: str) -> str:
    """The message as written: English, the source language."""
    return message


class PostedForm(Protocol):
    """The posted fields, as Werkzeug's ``MultiDict`` gives them: a field's value or all of them."""

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def getlist(self, key: str) -> list[str]: ...


_TIME_RE = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*(am|pm)?\s*$", re.IGNORECASE)
_UK_DATE_RE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


def parse_time(raw: str) -> time | None:
    """A time as typed: ``21:30`` (what the time picker sends), ``9:30pm`` or ``9.30 am``."""
    match = _TIME_RE.match(raw or "")
    if match is None:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2)), match.group(3)
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_date(raw: str) -> date | None:
    """A date as typed: ``2026-11-24`` (what the date picker sends) or ``24/11/2026``."""
    text = (raw or "").strip()
    try:
        if match := _UK_DATE_RE.match(text):
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    except ValueError:
        return None
    return None


def occurred_at(
    form: PostedForm, now: datetime, gettext: Gettext = untranslated
) -> tuple[datetime | None, dict[str, str]]:
    """When it happened, in London time, from the "when" choice; ``None`` means "now".

    Errors are keyed by the field to correct.
    """
    when = form.get("when", "now")
    if when not in WHEN_CHOICES:
        return None, {"when": gettext("Choose when it happened")}
    local_now = now.astimezone(LONDON)
    if when == "now":
        return None, {}
    if when == "today":
        typed = form.get("today_time", "").strip()
        if not typed:
            return None, {"today_time": gettext("Enter the time it happened, for example 21:30")}
        at = parse_time(typed)
        if at is None:
            return None, {"today_time": gettext("Enter a time like 21:30")}
        moment = datetime.combine(local_now.date(), at, tzinfo=LONDON)
        if moment > local_now + CLOCK_SKEW:
            return None, {
                "today_time": gettext("That time has not come yet today: enter an earlier time")
            }
        return moment, {}
    errors: dict[str, str] = {}
    typed_date = form.get("occurred_date", "").strip()
    day = parse_date(typed_date)
    if not typed_date:
        errors["occurred_date"] = gettext("Enter the date it happened")
    elif day is None:
        errors["occurred_date"] = gettext("Enter a real date, for example 24/11/2026")
    typed_time = form.get("occurred_time", "").strip()
    at = parse_time(typed_time)
    if not typed_time:
        errors["occurred_time"] = gettext("Enter the time it happened, roughly, for example 21:30")
    elif at is None:
        errors["occurred_time"] = gettext("Enter a time like 21:30")
    if errors or day is None or at is None:
        return None, errors
    moment = datetime.combine(day, at, tzinfo=LONDON)
    if moment > local_now + CLOCK_SKEW:
        return None, {"occurred_date": gettext("The date and time must be in the past")}
    return moment, {}


def form_id(raw: str | None) -> str:
    """The form's one-time id (a UUID); a new one when missing or not a UUID."""
    try:
        return str(uuid.UUID(raw or ""))
    except ValueError:
        return str(uuid.uuid4())


def point_from(form: PostedForm) -> PlacedFrom | None:
    """Where the form's point came from, as its script recorded it (``point_from``): the
    device's location, or a suggested place picked from the list; None for anything else,
    which is taken as a pin."""
    return {"device": PlacedFrom.DEVICE, "place": PlacedFrom.TYPED_PLACE}.get(
        form.get("point_from", "")
    )


def to_submission(
    form: PostedForm, now: datetime, gettext: Gettext = untranslated
) -> tuple[dict[str, Any], dict[str, str]]:
    """Map the form onto submission fields (blanks absent) and the form's own field errors."""
    data: dict[str, Any] = {}
    for name in ("category", "lat", "lon", "location_text", "description"):
        value = form.get(name, "").strip()
        if value:
            data[name] = value
    data["reasons"] = form.getlist("reasons")
    errors: dict[str, str] = {}
    happened, when_errors = occurred_at(form, now, gettext)
    errors.update(when_errors)
    if happened is not None:
        data["occurred_at"] = happened
    wants_updates = form.get("updates") == "email"
    email = form.get("contact_email", "").strip()
    if wants_updates and not email:
        errors["contact_email"] = gettext("Enter your email address, or choose not to get updates")
    if wants_updates and email:
        # Without "email me", a typed address is dropped, never stored.
        data["contact_email"] = email
    data["anonymous"] = not (wants_updates and form.get("share_details") == "yes")
    return data, errors


def to_support_details(
    form: PostedForm, now: datetime, gettext: Gettext = untranslated
) -> tuple[dict[str, Any], dict[str, str]]:
    """A supporter's reasons, "when" and email, from the same fields as the report form's."""
    data: dict[str, Any] = {"reasons": form.getlist("reasons")}
    happened, errors = occurred_at(form, now, gettext)
    if happened is not None:
        data["occurred_at"] = happened
    email = form.get("contact_email", "").strip()
    if form.get("updates") == "email":
        if email:
            data["email"] = email
        else:
            errors["contact_email"] = gettext(
                "Enter your email address, or untick “Yes, email me updates”"
            )
    return data, errors


def _location_message(message: str, gettext: Gettext) -> str:
    if message == "is required" or message.startswith("give a location"):
        return gettext(
            "Show us where it is: put a pin on the map, or type a postcode, street or place"
        )
    if message in ("must be a number", "must be a finite number") or message.startswith(
        "must be between"
    ):
        return gettext("The map position was not understood: put the pin again, or type a place")
    return message[:1].upper() + message[1:]


def friendly_errors(
    errors: dict[str, str], form: PostedForm, gettext: Gettext = untranslated
) -> dict[str, str]:
    """Domain and form errors as plain messages keyed by the field they are shown next to."""
    friendly: dict[str, str] = {}
    for field, message in errors.items():
        if field in ("location", "location_text", "lat", "lon"):
            friendly.setdefault("location_text", _location_message(message, gettext))
        elif field == "category":
            friendly[field] = (
                gettext("Choose what the problem is")
                if message == "is required"
                else gettext("Choose one of the problems listed")
            )
        elif field == "reasons":
            friendly[field] = gettext("Choose from the reasons listed")
        elif field == "description":
            friendly[field] = (
                gettext("Use %(max)s characters or fewer (you have %(count)s)")
                % {
                    "max": f"{MAX_DESCRIPTION_CHARS:,}",
                    "count": f"{len(form.get('description', '').strip()):,}",
                }
                if "at most" in message
                else gettext("Describe the problem")
            )
        elif field == "contact_email":
            friendly[field] = (
                gettext("Enter an email address like name@example.com")
                if message.startswith("must be")
                else message
            )
        elif field == "occurred_at":
            target = {"today": "today_time", "other": "occurred_date"}.get(
                form.get("when", ""), "when"
            )
            friendly[target] = (
                gettext("Enter a date from 1 January 2000 onwards")
                if message == TOO_EARLY
                else gettext("The date and time must be in the past")
            )
        else:
            friendly[field] = message[:1].upper() + message[1:]
    ordered = {field: friendly[field] for field in ERROR_ORDER if field in friendly}
    return ordered | friendly
