"""The abuse list: reports from listed emails or domains are held for an admin to review."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from safer_streets.errors import Conflict, InvalidInput, NotFound
from safer_streets.models import AbuseEntry, Report, ReportEvent, ReportStatus, User


def normalise(value: str) -> str:
    """'  Someone@Example.ORG ' -> 'someone@example.org'; a bare domain stays a domain."""
    return value.strip().lower().lstrip("@")


def add_entry(session: Session, value: str, reason: str, actor: User | None) -> AbuseEntry:
    """List an email or a domain; the reason is required and kept."""
    value = normalise(value)
    errors = {}
    if not value or " " in value or "." not in value.rpartition("@")[2]:
        errors["value"] = "must be an email address or a domain such as example.org"
    if not reason.strip():
        errors["reason"] = "say why this address is listed"
    if errors:
        raise InvalidInput(errors)
    if session.scalar(select(AbuseEntry).where(AbuseEntry.value == value)):
        raise InvalidInput({"value": f"{value} is already listed"})
    entry = AbuseEntry(value=value, reason=reason.strip(), created_by=actor)
    session.add(entry)
    session.flush()
    return entry


def remove_entry(session: Session, entry_id: int) -> None:
    """Take an entry off the list; reports already held stay held until reviewed."""
    entry = session.get(AbuseEntry, entry_id)
    if entry is None:
        raise NotFound("no such abuse list entry")
    session.delete(entry)
    session.flush()


def held_reports(session: Session) -> list[Report]:
    """Reports waiting for review, oldest first."""
    return list(
        session.scalars(
            select(Report).where(Report.status == ReportStatus.HELD).order_by(Report.created_at)
        )
    )


def review(session: Session, report: Report, actor: User, *, release: bool, note: str) -> None:
    """Release a held report for routing, or refuse it; either way with a recorded reason."""
    if report.status is not ReportStatus.HELD:
        raise Conflict(f"{report.reference} is not held (it is {report.status.value})")
    if not note.strip():
        raise InvalidInput({"note": "say why"})
    to_status = ReportStatus.RECEIVED if release else ReportStatus.NOT_ACTIONABLE
    session.add(
        ReportEvent(
            report_id=report.id,
            actor=actor,
            kind="released" if release else "refused",
            from_status=ReportStatus.HELD,
            to_status=to_status,
            note=note.strip(),
        )
    )
    report.status = to_status
    session.flush()
