"""The administrators' home: how the whole system stands, in counts that say where to look."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safer_streets.models import (
    AdminChange,
    ApiClient,
    Area,
    Category,
    CategoryReason,
    EmailOutbox,
    Partner,
    Report,
    ReportStatus,
    User,
)


@dataclass(frozen=True)
class Overview:
    """Counts for the /admin home."""

    reports_by_status: dict[str, int]
    needs_attention: int
    held: int
    outbox_unsent: int
    api_keys_active: int
    users_by_role: dict[str, int]
    partners: int = 0
    categories: int = 0
    # Reasons residents are offered (retired ones are not).
    reasons: int = 0
    areas: int = 0
    console_changes: int = 0

    @property
    def reports(self) -> int:
        """Every report, whatever its status."""
        return sum(self.reports_by_status.values())


def overview(session: Session) -> Overview:
    """Reports by status (those set aside or held among them), unsent emails, active API
    keys, active accounts by role, and how many partners, categories, offered reasons, named
    areas and console changes there are."""
    by_status = {
        str(status): count
        for status, count in session.execute(
            select(Report.status, func.count()).group_by(Report.status)
        )
    }
    by_role = {
        str(role): count
        for role, count in session.execute(
            select(User.role, func.count()).where(User.active).group_by(User.role)
        )
    }
    unsent = select(func.count()).select_from(EmailOutbox).where(EmailOutbox.sent_at.is_(None))
    keys = select(func.count()).select_from(ApiClient).where(ApiClient.revoked_at.is_(None))

    def count(model: type) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return Overview(
        reports_by_status=by_status,
        needs_attention=by_status.get(ReportStatus.NEEDS_ATTENTION.value, 0),
        held=by_status.get(ReportStatus.HELD.value, 0),
        outbox_unsent=session.scalar(unsent) or 0,
        api_keys_active=session.scalar(keys) or 0,
        users_by_role=by_role,
        partners=count(Partner),
        categories=count(Category),
        reasons=session.scalar(
            select(func.count()).select_from(CategoryReason).where(~CategoryReason.retired)
        )
        or 0,
        areas=count(Area),
        console_changes=count(AdminChange),
    )
