"""Moderation of what the public sees: redact or hide a description, hide a public update.

The reporter's own words are kept for the partners; only the public version changes, and every
change is recorded with who, when, why and what was shown before.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import Report, ReportEvent, User

REDACTED = "[removed by a moderator]"


def public_description(report: Report) -> str | None:
    """The description as the public may see it (None when hidden)."""
    if report.public_description is None:
        return report.description
    return report.public_description or None


def _require_reason(reason: str) -> str:
    if not reason.strip():
        raise InvalidInput({"reason": "say why the public text is being changed"})
    return reason.strip()


def moderate_description(
    session: Session, report: Report, actor: User, *, public_text: str | None, reason: str
) -> None:
    """Set the public description: edited text, ``""`` to hide it, or None to restore it."""
    reason = _require_reason(reason)
    if public_text is not None:
        public_text = public_text.strip()
        if len(public_text) > len(report.description) + len(REDACTED) * 10:
            raise InvalidInput({"public_text": "a moderated text cannot add to what was said"})
    before = disclose(report, Audience.PUBLIC).description
    report.public_description = public_text
    action = "restored" if public_text is None else "hidden" if public_text == "" else "redacted"
    session.add(
        ReportEvent(
            report_id=report.id,
            actor=actor,
            kind="moderated",
            note=f"Public description {action}: {reason}",
            data={
                "field": "description",
                "before": before,
                "after": disclose(report, Audience.PUBLIC).description,
            },
        )
    )
    session.flush()


def hide_update(
    session: Session, report: Report, event_id: int, actor: User, *, reason: str
) -> None:
    """Take a public update off the tracking page and the APIs, keeping it for partners."""
    reason = _require_reason(reason)
    event = session.get(ReportEvent, event_id)
    if event is None or event.report_id != report.id or not event.public:
        raise NotFound("no such public update on this report")
    event.public = False
    session.add(
        ReportEvent(
            report_id=report.id,
            actor=actor,
            kind="moderated",
            note=f"Public update hidden: {reason}",
            data={"field": "update", "event_id": event.id, "before": event.note},
        )
    )
    session.flush()
