"""Who may see and act on a report: the one permission core. A partner's staff see the reports
it owns or is notified of; scoping is enforced here, in the queries, never in templates.

A partner user reads and changes only reports its partner owns or is notified on; anything
else is ``NotFound``, never "forbidden", so nobody learns that a report exists. The board
reads everything and changes nothing; administrators read and change everything. A partner's
own case system, acting through an API key (Open311), is scoped exactly as that partner's
staff are.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from safer_streets.disclosure.policy import Audience, Disclosure, disclose
from safer_streets.errors import NotFound
from safer_streets.models import (
    ApiClient,
    Category,
    QueueCount,
    Report,
    ReportNotifiedPartner,
    Role,
    User,
)

# ---- Who may see what ------------------------------------------------------------------

# Who acts on a report: a signed-in user, or an API client acting for a partner.
Actor = User | ApiClient


def role_of(actor: Actor) -> Role:
    """The role an actor's permissions follow: a key never acts as the board or an admin."""
    return actor.role if isinstance(actor, User) else Role.STAFF


class Access(enum.Enum):
    """A user's relation to one report, which decides what they may do with it."""

    OWNER = "owner"
    NOTIFIED = "notified"
    READ_ONLY = "read-only"
    ADMIN = "admin"


def visibility(user: Actor) -> ColumnElement[bool]:
    """SQL condition on ``Report``: the reports this user (or client) may read.

    Measured at 100,000 reports (bench/bench_triage_queue.py), ``owner OR EXISTS`` lets
    PostgreSQL walk an ordered index and stop at a page, where a UNION of ids cannot.
    """
    if not user.active:
        return false()
    role = role_of(user)
    if role is Role.ADMIN:
        return literal(True)
    if role is Role.BOARD:
        # The disclosure policy: the board sees sensitive reports in aggregates only.
        if isinstance(user, User) and user.sees_case_detail:
            return literal(True)
        return ~Report.category.has(Category.sensitive)
    if user.partner_id is None:
        return false()
    notified = exists().where(
        ReportNotifiedPartner.report_id == Report.id,
        ReportNotifiedPartner.partner_id == user.partner_id,
    )
    return or_(Report.owner_partner_id == user.partner_id, notified)


def count_scope(user: Actor) -> ColumnElement[bool]:
    """SQL condition on ``QueueCount``: the rows that count exactly the reports
    ``visibility(user)`` lets this user read, each once (a partner's row counts what it owns
    and what it is notified of but does not own)."""
    if not user.active:
        return false()
    role = role_of(user)
    borough = QueueCount.partner_id.is_(None)
    if role is Role.ADMIN or (
        role is Role.BOARD and isinstance(user, User) and user.sees_case_detail
    ):
        return borough
    if role is Role.BOARD:
        return and_(
            borough, QueueCount.category_id.in_(select(Category.id).where(~Category.sensitive))
        )
    if user.partner_id is None:
        return false()
    return QueueCount.partner_id == user.partner_id


def visible_reports(user: Actor) -> Select[tuple[Report]]:
    """A query for the reports this user may read: owned by or notified to their partner."""
    return select(Report).where(visibility(user))


def access(session: Session, user: Actor, report: Report) -> Access:
    """How this user (or client) relates to a report it can read (``NotFound`` if it cannot)."""
    if not user.active:
        raise NotFound(f"no report {report.reference!r} in your queue")
    role = role_of(user)
    if role is Role.ADMIN:
        return Access.ADMIN
    if role is Role.BOARD:
        if report.category.sensitive and not (isinstance(user, User) and user.sees_case_detail):
            raise NotFound(f"no report {report.reference!r} in your queue")
        return Access.READ_ONLY
    if user.partner_id is not None and report.owner_partner_id == user.partner_id:
        return Access.OWNER
    if user.partner_id is not None and session.get(
        ReportNotifiedPartner, (report.id, user.partner_id)
    ):
        return Access.NOTIFIED
    raise NotFound(f"no report {report.reference!r} in your queue")


def report_for(session: Session, user: Actor, reference: str) -> Report:
    """A report the user may read, or ``NotFound`` (never revealing that it exists)."""
    report = session.scalar(
        visible_reports(user).where(Report.reference == reference.strip().upper())
    )
    if report is None:
        raise NotFound(f"no report {reference!r} in your queue")
    return report


def audience_for(session: Session, user: Actor, report: Report) -> Audience:
    """Which audience of the disclosure policy this user (or client) is for a report it can
    read (``NotFound`` if it cannot)."""
    level = access(session, user, report)
    if level is Access.ADMIN:
        return Audience.ADMIN
    if level is Access.READ_ONLY:
        detail = isinstance(user, User) and user.sees_case_detail
        return Audience.BOARD_CASE_DETAIL if detail else Audience.BOARD
    if level is Access.NOTIFIED:
        return Audience.NOTIFIED_STAFF
    return Audience.PARTNER_ADMIN if role_of(user) is Role.PARTNER_ADMIN else Audience.OWNER_STAFF


def audience_among_visible(user: Actor, report: Report) -> Audience:
    """``audience_for`` without a query, for a report selected through ``visibility(user)``
    (queue rows, map points, exports): lists of hundreds cannot afford a look-up each."""
    role = role_of(user)
    if role is Role.ADMIN:
        return Audience.ADMIN
    if role is Role.BOARD:
        detail = isinstance(user, User) and user.sees_case_detail
        return Audience.BOARD_CASE_DETAIL if detail else Audience.BOARD
    if report.owner_partner_id is None or report.owner_partner_id != user.partner_id:
        return Audience.NOTIFIED_STAFF
    return Audience.PARTNER_ADMIN if role is Role.PARTNER_ADMIN else Audience.OWNER_STAFF


def disclosures_among_visible(user: Actor, reports: Iterable[Report]) -> list[Disclosure]:
    """Each of these reports (selected through ``visibility(user)``) as the user may see it."""
    return [disclose(report, audience_among_visible(user, report)) for report in reports]


def disclosure_for(session: Session, user: Actor, reference: str) -> Disclosure:
    """A report the user may read, as the disclosure policy lets them see it."""
    report = report_for(session, user, reference)
    return disclose(report, audience_for(session, user, report))
