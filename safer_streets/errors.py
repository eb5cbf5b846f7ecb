"""One error hierarchy carrying an HTTP status, raised by the domain, translated by the web."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class SaferStreetsError(Exception):
    """A failure the user can be told about; ``status`` is the HTTP status it maps to."""

    status = 500
    title = "Something went wrong"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.title
        super().__init__(self.message)


class InvalidInput(SaferStreetsError):
    """One or more fields are wrong; ``field_errors`` names each field and why."""

    status = 422
    title = "Some of the details need correcting"

    def __init__(self, field_errors: Mapping[str, str], message: str | None = None) -> None:
        self.field_errors = dict(field_errors)
        super().__init__(message or "Please check: " + ", ".join(self.field_errors))


def plain_field_errors(
    error: ValidationError,
    messages: Mapping[str, str | None],
    *,
    whole: str,
    field_messages: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, str]:
    """One plain message per field from a pydantic error: the first error of each field.

    ``messages`` words each error type (``None``: the validator's own words, which name the
    problem already); other types keep pydantic's message. ``field_messages`` words an error
    type for one field. An error about the input as a whole is named ``whole``. The models
    are flat, so an error inside a list ("reasons", 2) belongs to the list's field.
    """
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else whole
        message = messages.get(item["type"], item["msg"])
        if message is None:
            message = item["msg"].removeprefix("Value error, ")
        if field_messages:
            message = field_messages.get((field, item["type"]), message)
        errors.setdefault(field, message)
    return errors


class BadRequest(SaferStreetsError):
    """The request itself cannot be read (malformed JSON, wrong content type)."""

    status = 400
    title = "The request could not be read"


class UnsupportedMediaType(BadRequest):
    """The body is not in a format this endpoint accepts."""

    status = 415
    title = "Unsupported content type"


class NotFound(SaferStreetsError):
    """Missing, or not the asker's to see: both look the same from outside."""

    status = 404
    title = "Not found"


class NotAllowed(SaferStreetsError):
    """The user is known but may not do this."""

    status = 403
    title = "Not allowed"


class Conflict(SaferStreetsError):
    """The request clashes with the current state (e.g. an idempotency key reused)."""

    status = 409
    title = "Conflict"


class InvalidTransition(Conflict):
    """The report's current state does not allow this move (a status change, a duplicate).

    A ``Conflict`` to people working a queue; adapters that read it as a bad argument (Open311
    has no 409 for this) can tell it apart from two people changing a report at once.
    """

    title = "Not allowed in the report's current state"


class ServiceUnavailable(SaferStreetsError):
    """A part we depend on is down; the client should retry shortly."""

    status = 503
    title = "Service temporarily unavailable"
    retry_after_seconds = 5
