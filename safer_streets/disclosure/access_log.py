"""The access log: every view of a sensitive report's detail, by anyone, kept for admins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from safer_streets.disclosure.policy import Disclosure
from safer_streets.models import ApiClient, ReportAccess, User


def record_views(
    session: Session,
    disclosures: Iterable[Disclosure],
    *,
    viewer: User | ApiClient,
    surface: str,
    address: str | None,
) -> int:
    """Log each shown report whose policy asks for it; returns how many were logged."""
    rows = [
        ReportAccess(
            report_id=shown.report.id,
            user_id=viewer.id if isinstance(viewer, User) else None,
            api_client_id=viewer.id if isinstance(viewer, ApiClient) else None,
            surface=surface,
            address=address,
        )
        for shown in disclosures
        if shown.logged
    ]
    session.add_all(rows)
    return len(rows)


def recent_views(
    session: Session, *, report_id: int | None = None, limit: int = 200
) -> Sequence[ReportAccess]:
    """The latest logged views, newest first (of one report, if given)."""
    query = (
        select(ReportAccess)
        .options(joinedload(ReportAccess.report), joinedload(ReportAccess.user))
        .order_by(ReportAccess.at.desc(), ReportAccess.id.desc())
        .limit(limit)
    )
    if report_id is not None:
        query = query.where(ReportAccess.report_id == report_id)
    return session.scalars(query).all()
