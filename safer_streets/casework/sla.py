"""Service levels: hours to acknowledge and to resolve, per partner and category.

A partner's own row in ``partner_sla`` wins; otherwise the partner's defaults apply. Due
times are fixed when a report is routed to its owner, so changing a target later does not
move the goalposts for reports already in the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from safer_streets.errors import InvalidInput, NotAllowed
from safer_streets.models import (
    OPEN_STATUSES,
    Category,
    Partner,
    PartnerSla,
    Report,
    Role,
    User,
)

MAX_HOURS = 24 * 365


@dataclass(frozen=True)
class Target:
    """Hours to acknowledge and to resolve one category, and whether the partner set them."""

    category_slug: str
    category_name: str
    hours_to_acknowledge: int | None
    hours_to_resolve: int | None
    overridden: bool


def hours_for(session: Session, partner_id: int, category_id: int) -> tuple[int | None, int | None]:
    """The partner's hours to acknowledge and resolve this category (``None`` means no target)."""
    row = session.scalar(
        select(PartnerSla).where(
            PartnerSla.partner_id == partner_id, PartnerSla.category_id == category_id
        )
    )
    if row is not None:
        return row.hours_to_acknowledge, row.hours_to_resolve
    partner = session.get(Partner, partner_id)
    if partner is None:
        return None, None
    return partner.hours_to_acknowledge, partner.hours_to_resolve


def due_times(
    session: Session, partner_id: int, category_id: int, start: datetime
) -> tuple[datetime | None, datetime | None]:
    """When a report routed to this partner at ``start`` must be acknowledged and resolved."""
    return _due(start, *hours_for(session, partner_id, category_id))


def _due(
    start: datetime, acknowledge: int | None, resolve: int | None
) -> tuple[datetime | None, datetime | None]:
    return (
        start + timedelta(hours=acknowledge) if acknowledge else None,
        start + timedelta(hours=resolve) if resolve else None,
    )


@dataclass(frozen=True)
class ServiceLevels:
    """Every partner's hours, read once for routing many reports: the same answers as
    ``hours_for`` and ``due_times`` without a query per report."""

    overrides: dict[tuple[int, int], tuple[int | None, int | None]]
    defaults: dict[int, tuple[int | None, int | None]]

    @classmethod
    def load(cls, session: Session) -> ServiceLevels:
        """The current service levels of every partner."""
        overrides = {
            (row.partner_id, row.category_id): (row.hours_to_acknowledge, row.hours_to_resolve)
            for row in session.scalars(select(PartnerSla))
        }
        defaults = {
            row.id: (row.hours_to_acknowledge, row.hours_to_resolve)
            for row in session.execute(
                select(Partner.id, Partner.hours_to_acknowledge, Partner.hours_to_resolve)
            )
        }
        return cls(overrides, defaults)

    def due_times(
        self, partner_id: int, category_id: int, start: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """When a report routed to this partner at ``start`` must be acknowledged and resolved."""
        hours = self.overrides.get((partner_id, category_id)) or self.defaults.get(
            partner_id, (None, None)
        )
        return _due(start, *hours)


def acknowledge_breached(now: datetime) -> ColumnElement[bool]:
    """SQL: acknowledged late, or still not acknowledged past the due time."""
    return and_(
        Report.acknowledge_due_at.is_not(None),
        func.coalesce(Report.acknowledged_at, now) > Report.acknowledge_due_at,
    )


def resolve_breached(now: datetime) -> ColumnElement[bool]:
    """SQL: closed late, or still open past the due time."""
    return and_(
        Report.resolve_due_at.is_not(None),
        func.coalesce(Report.resolved_at, now) > Report.resolve_due_at,
    )


def breached(now: datetime) -> ColumnElement[bool]:
    """SQL: either service level was missed."""
    return or_(acknowledge_breached(now), resolve_breached(now))


def breaches_of(report: Report, now: datetime) -> list[str]:
    """Which service levels this report missed, in words for the queue ('acknowledge')."""
    missed = []
    if report.acknowledge_due_at and (report.acknowledged_at or now) > report.acknowledge_due_at:
        missed.append("acknowledge")
    if report.resolve_due_at and (report.resolved_at or now) > report.resolve_due_at:
        missed.append("resolve")
    return missed


@dataclass(frozen=True)
class PartnerBreaches:
    """One partner's reports and how many missed each service level."""

    partner_slug: str
    partner_name: str
    reports: int
    open: int
    acknowledge_breached: int
    resolve_breached: int


def breaches_by_partner(session: Session, user: User, now: datetime) -> list[PartnerBreaches]:
    """Service-level breaches counted per owner partner: for the board and admins."""
    if user.role not in (Role.BOARD, Role.ADMIN):
        raise NotAllowed("only the board and administrators see every partner's breaches")
    is_open = Report.status.in_(OPEN_STATUSES)
    rows = session.execute(
        select(
            Partner.slug,
            Partner.name,
            func.count(),
            func.count(case((is_open, 1))),
            func.count(case((acknowledge_breached(now), 1))),
            func.count(case((resolve_breached(now), 1))),
        )
        .join(Partner, Partner.id == Report.owner_partner_id)
        .group_by(Partner.slug, Partner.name)
        .order_by(Partner.slug)
    )
    return [PartnerBreaches(*row) for row in rows]


def targets(session: Session, partner: Partner) -> list[Target]:
    """Every category with the partner's targets for it (its own or its defaults)."""
    own = {
        row.category_id: row
        for row in session.scalars(select(PartnerSla).where(PartnerSla.partner_id == partner.id))
    }
    result = []
    for category in session.scalars(select(Category).order_by(Category.position)):
        row = own.get(category.id)
        result.append(
            Target(
                category_slug=category.slug,
                category_name=category.name,
                hours_to_acknowledge=row.hours_to_acknowledge
                if row
                else partner.hours_to_acknowledge,
                hours_to_resolve=row.hours_to_resolve if row else partner.hours_to_resolve,
                overridden=row is not None,
            )
        )
    return result


def _hours(field: str, raw: str | int, errors: dict[str, str]) -> int | None:
    try:
        value = int(str(raw).strip())
    except ValueError:
        errors[field] = "must be a whole number of hours"
        return None
    if not 1 <= value <= MAX_HOURS:
        errors[field] = f"must be between 1 and {MAX_HOURS} hours"
        return None
    return value


def set_target(
    session: Session,
    actor: User,
    category_slug: str,
    hours_to_acknowledge: str | int,
    hours_to_resolve: str | int,
) -> PartnerSla:
    """A partner admin sets their own partner's targets for one category."""
    if actor.role is not Role.PARTNER_ADMIN or actor.partner_id is None:
        raise NotAllowed("only a partner admin can change the partner's service levels")
    category = session.scalar(select(Category).where(Category.slug == category_slug))
    errors: dict[str, str] = {}
    if category is None:
        errors["category"] = f"unknown category {category_slug!r}"
    acknowledge = _hours("hours_to_acknowledge", hours_to_acknowledge, errors)
    resolve = _hours("hours_to_resolve", hours_to_resolve, errors)
    if acknowledge and resolve and resolve < acknowledge:
        errors["hours_to_resolve"] = "must be at least the hours to acknowledge"
    if errors or category is None or acknowledge is None or resolve is None:
        raise InvalidInput(errors)
    row = session.scalar(
        select(PartnerSla).where(
            PartnerSla.partner_id == actor.partner_id, PartnerSla.category_id == category.id
        )
    )
    if row is None:
        row = PartnerSla(partner_id=actor.partner_id, category_id=category.id)
        session.add(row)
    row.hours_to_acknowledge = acknowledge
    row.hours_to_resolve = resolve
    session.flush()
    return row
