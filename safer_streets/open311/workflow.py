"""The status workflow after routing: which moves are allowed, and recording a move.

received → routed happens in ``routing.processing.process_reports``; after that the owner
partner moves a report along: acknowledged → in progress → resolved / not actionable /
duplicate / referred.
A resolved or not-actionable report can be reopened (back to in progress); duplicate and
referred are final. Every change is a ``ReportEvent`` naming who made it: a signed-in user or an
API client (a partner's own case system).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from safer_streets.errors import Conflict, InvalidInput
from safer_streets.models import (
    OPEN_STATUSES,
    ApiClient,
    Report,
    ReportEvent,
    ReportStatus,
    User,
)

S = ReportStatus
_CLOSING = frozenset({S.RESOLVED, S.NOT_ACTIONABLE, S.DUPLICATE, S.REFERRED})
ALLOWED_TRANSITIONS: dict[ReportStatus, frozenset[ReportStatus]] = {
    S.ROUTED: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}) | _CLOSING,
    S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS}) | _CLOSING,
    S.IN_PROGRESS: _CLOSING,
    S.RESOLVED: frozenset({S.IN_PROGRESS}),
    S.NOT_ACTIONABLE: frozenset({S.IN_PROGRESS}),
}


def can_move(current: ReportStatus, to: ReportStatus) -> bool:
    """True when a report in ``current`` may be moved to ``to``."""
    return to in ALLOWED_TRANSITIONS.get(current, frozenset())


def _label(status: ReportStatus) -> str:
    return status.value.replace("_", " ")


def record_update(
    session: Session,
    report: Report,
    *,
    to: ReportStatus | None,
    note: str | None,
    public: bool,
    actor: User | None = None,
    api_client: ApiClient | None = None,
    data: dict[str, Any] | None = None,
) -> ReportEvent:
    """Move ``report`` to ``to`` (None or the same status: a note only) and record the event.

    Raises ``InvalidInput`` on ``status`` for a move the workflow does not allow, and
    ``Conflict`` when someone else changed the report at the same moment.
    """
    current = report.status
    moving = to is not None and to is not current
    if moving and not can_move(current, to):
        allowed = ", ".join(sorted(_label(s) for s in ALLOWED_TRANSITIONS.get(current, ())))
        raise InvalidInput(
            {
                "status": f"a {_label(current)} report cannot become {_label(to)}"
                + (f"; it can become {allowed}" if allowed else "")
            }
        )
    now = datetime.now(UTC)
    if moving:
        report.status = to
        if report.acknowledged_at is None:
            report.acknowledged_at = now
        if to in OPEN_STATUSES:
            report.resolved_at = None
        else:
            report.resolved_at = now
    event = ReportEvent(
        report_id=report.id,
        kind="status_changed" if moving else "update",
        from_status=current.value if moving else None,
        to_status=to.value if moving else None,
        note=note or None,
        public=public,
        actor_id=actor.id if actor else None,
        api_client_id=api_client.id if api_client else None,
        data=dict(data or {}),
    )
    session.add(event)
    # Bumps the report's version even for a note, so two simultaneous updates cannot both win.
    report.updated_at = now
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "the report was changed by someone else at the same time; try again"
        ) from None
    return event
