"""Data protection: retention of reporters' personal data and subject-access exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session, selectinload

from safer_streets.models import (
    EmailOutbox,
    Report,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
    ReportSupport,
)
from safer_streets.notifications.outbox import Kind

CLOSED_STATUSES = (
    ReportStatus.RESOLVED,
    ReportStatus.NOT_ACTIONABLE,
    ReportStatus.DUPLICATE,
    ReportStatus.REFERRED,
    ReportStatus.OUT_OF_AREA,
)


@dataclass(frozen=True)
class RetentionResult:
    """How many closed reports had their personal data removed in one pass."""

    reports: int
    photos: int


def expire_personal_data(
    session: Session, *, retention_days: int, now: datetime, batch: int = 5000
) -> RetentionResult:
    """Remove contact details and photos from reports closed more than ``retention_days`` ago.

    Set-based and in batches; every report touched gets a ``retention`` event saying what was
    removed and under which period, so the audit trail survives the data.
    """
    closed_at = func.coalesce(Report.resolved_at, Report.updated_at)
    has_photo = select(ReportPhoto.id).where(ReportPhoto.report_id == Report.id).exists()
    ids = list(
        session.scalars(
            select(Report.id)
            .where(
                Report.status.in_(CLOSED_STATUSES),
                closed_at < now - func.make_interval(0, 0, 0, retention_days),
                or_(
                    Report.contact_email.is_not(None),
                    Report.contact_name.is_not(None),
                    Report.contact_phone.is_not(None),
                    has_photo,
                ),
            )
            .order_by(Report.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return RetentionResult(0, 0)
    photos = session.execute(delete(ReportPhoto).where(ReportPhoto.report_id.in_(ids))).rowcount
    # Updates emailed to the resident hold their address: those outbox rows go too.
    session.execute(
        delete(EmailOutbox).where(
            EmailOutbox.report_id.in_(ids), EmailOutbox.kind == Kind.PUBLIC_UPDATE
        )
    )
    session.execute(
        update(Report)
        .where(Report.id.in_(ids))
        .values(
            contact_email=None,
            contact_name=None,
            contact_phone=None,
            # Direct updates bypass the ORM's optimistic lock: bump the version ourselves so
            # an open triage form cannot write back what was removed.
            version_id=Report.version_id + 1,
        )
        .execution_options(synchronize_session=False)
    )
    note = f"Contact details and photo removed {retention_days} days after the report closed."
    session.execute(
        insert(ReportEvent).from_select(
            ["report_id", "kind", "note", "public", "data"],
            select(
                Report.id,
                literal("retention"),
                literal(note),
                literal(False),
                func.jsonb_build_object("retention_days", retention_days),
            ).where(Report.id.in_(ids)),
        )
    )
    session.flush()
    return RetentionResult(len(ids), photos or 0)


def forget_supporter_emails(
    session: Session, *, closed_days: int, now: datetime, batch: int = 5000
) -> int:
    """Forget the addresses supporters left for a report's updates once it has been closed
    longer than ``closed_days`` (the reopening window: after it, nothing more is sent), with
    the emails that held them; returns how many addresses were forgotten.

    The supporter's voice, reasons and time stay: nothing in them identifies anyone.
    """
    closed_at = func.coalesce(Report.resolved_at, Report.updated_at)
    ids = list(
        session.scalars(
            select(ReportSupport.id)
            .join(Report, Report.id == ReportSupport.report_id)
            .where(
                ReportSupport.email.is_not(None),
                Report.status.in_(CLOSED_STATUSES),
                closed_at < now - func.make_interval(0, 0, 0, closed_days),
            )
            .order_by(ReportSupport.id)
            .limit(batch)
            .with_for_update(of=ReportSupport, skip_locked=True)
        )
    )
    if not ids:
        return 0
    session.execute(
        delete(EmailOutbox).where(
            EmailOutbox.kind == Kind.SUPPORTER_UPDATE,
            EmailOutbox.data["support_id"].as_integer().in_(ids),
        )
    )
    session.execute(
        update(ReportSupport)
        .where(ReportSupport.id.in_(ids))
        .values(email=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return len(ids)


def subject_access_export(session: Session, email: str) -> dict[str, Any]:
    """Everything held about whoever reported, or added their voice, with ``email``, for a
    subject-access request."""
    email = email.strip().lower()
    reports = session.scalars(
        select(Report)
        .options(selectinload(Report.events), selectinload(Report.photo))
        .where(func.lower(Report.contact_email) == email)
        .order_by(Report.created_at)
    ).all()
    return {
        "email": email,
        "generated_at": datetime.now().astimezone().isoformat(),
        "reports": [
            {
                "reference": r.reference,
                "received": r.created_at.isoformat(),
                "category": r.category.name,
                "description": r.description,
                "location_text": r.location_text,
                "occurred_at": r.occurred_at.isoformat() if r.occurred_at else None,
                "status": r.status.value,
                "contact": {
                    "email": r.contact_email,
                    "name": r.contact_name,
                    "phone": r.contact_phone,
                    "share_with_partner": not r.anonymous,
                },
                "photo_held": r.photo is not None,
                "public_updates": [
                    {"at": e.at.isoformat(), "note": e.note}
                    for e in r.events
                    if e.public and e.note
                ],
            }
            for r in reports
        ],
        # Voices added with this address for a report's updates: only while it is kept.
        "supported": [
            {
                "reference": report.reference,
                "category": report.category.name,
                "added": support.created_at.isoformat(),
                "reasons": list(support.reasons),
                "occurred_at": support.occurred_at.isoformat() if support.occurred_at else None,
                "email": support.email,
            }
            for support, report in session.execute(
                select(ReportSupport, Report)
                .join(Report, Report.id == ReportSupport.report_id)
                .where(func.lower(ReportSupport.email) == email)
                .order_by(ReportSupport.created_at, ReportSupport.id)
            ).all()
        ],
    }
