"""Partners publish what they did in a ward or a town centre, and the reports that prompted it.

A partner's staff write an action for the public (a title, what was done in plain words, the
date) and link the reports that prompted it, chosen by reference among the reports their
partner owns or is kept informed of (``casework.access.visibility``); a reference outside that
set reads exactly as an unknown one, so nobody learns that a report exists.

Public pages never decide for themselves what to show of a linked report: each is put to
``disclose(report, Audience.PUBLIC)`` and linked only where the policy lists it. A report the
public never sees one by one (harassment, weapons) still counts towards "after N reports",
and that count follows the board's suppression: below the minimum, a sensitive part is left
out and the count marked, or withheld when nothing else is left (``board.suppression``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from safer_streets.board.audience import Audience as BoardAudience
from safer_streets.board.suppression import Shown, shown
from safer_streets.casework.access import visibility
from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.errors import InvalidInput, NotAllowed, NotFound
from safer_streets.intake.submission import normalise_reference
from safer_streets.models import (
    Area,
    PartnerAction,
    PartnerActionReport,
    Report,
    Role,
    User,
    Ward,
)
from safer_streets.residents.listing import Choices

TITLE_MAX = 120
BODY_MAX = 2000
# Enough for a campaign prompted by a street's worth of reports; more is a paste gone wrong.
MAX_REPORTS = 200
# Public pages list what was done within the last year.
RECENT = timedelta(days=365)
_SEPARATORS = re.compile(r"[\s,;]+")
PUBLISHING_ROLES = (Role.STAFF, Role.PARTNER_ADMIN)


# ---- Who may publish ---------------------------------------------------------------------


def may_publish(user: User | None) -> bool:
    """Whether this user writes actions for a partner: its staff and administrators."""
    return (
        user is not None
        and user.active
        and user.role in PUBLISHING_ROLES
        and user.partner_id is not None
    )


def require_publisher(user: User | None) -> User:
    """The user, when they may publish for their partner; ``NotAllowed`` otherwise."""
    if user is None or not may_publish(user):
        raise NotAllowed("Only a partner's staff publish what their partner did.")
    return user


# ---- The form ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionInput:
    """A valid action, before it is stored."""

    title: str
    body: str
    done_on: date
    report_ids: tuple[int, ...]
    ward_id: int | None = None
    area_id: int | None = None


def place_value(action: PartnerAction) -> str:
    """The form's value for an action's place: ``ward:<slug>`` or ``area:<slug>``."""
    if action.ward is not None:
        return f"ward:{action.ward.slug}"
    return f"area:{action.area.slug}" if action.area is not None else ""


def split_references(text: str) -> list[str]:
    """References as staff paste them (commas, spaces or lines between), each normalised; a
    prefix typed apart from its code ("LEW 7K3Q9") is kept with it."""
    words = [word for word in _SEPARATORS.split(text.upper()) if word]
    joined: list[str] = []
    for word in words:
        if joined and joined[-1] in ("LEW", "LEW-"):
            joined[-1] += word
        else:
            joined.append(word)
    return list(dict.fromkeys(normalise_reference(word) for word in joined))


def _linkable_reports(
    session: Session, user: User, references: Sequence[str]
) -> tuple[list[Report], list[str]]:
    """The reports among ``references`` this user's partner may see, and the references that
    are not (unknown or not theirs alike)."""
    found = {
        report.reference: report
        for report in session.scalars(
            select(Report).where(Report.reference.in_(references), visibility(user))
        )
    }
    return [found[r] for r in references if r in found], [r for r in references if r not in found]


def parse_action(
    session: Session, user: User, values: Mapping[str, str], *, today: date
) -> ActionInput:
    """An action from the form, or ``InvalidInput`` naming every field that is wrong."""
    errors: dict[str, str] = {}
    title = " ".join((values.get("title") or "").split())
    if not title:
        errors["title"] = "Give the action a title, such as “New lighting on Rushey Green”"
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Keep the title to {TITLE_MAX} characters"
    body = (values.get("body") or "").strip().replace("\r\n", "\n")
    if not body:
        errors["body"] = "Say in plain words what was done"
    elif len(body) > BODY_MAX:
        errors["body"] = f"Keep what was done to {BODY_MAX} characters"
    done_on = None
    raw_date = (values.get("done_on") or "").strip()
    try:
        done_on = date.fromisoformat(raw_date)
    except ValueError:
        errors["done_on"] = "Give the date it was done, as a date such as 2026-11-28"
    else:
        if done_on > today:
            errors["done_on"] = "The date it was done cannot be in the future"
        elif done_on < today - timedelta(days=5 * 365):
            errors["done_on"] = "The date it was done is more than five years ago"
    place: dict[str, int] = {}
    kind, _, slug = (values.get("place") or "").partition(":")
    choices = Choices.load(session)
    choice = choices.find({"ward": "wards", "area": "areas"}.get(kind, "wards"), slug)
    if kind not in ("ward", "area") or choice is None:
        errors["place"] = "Choose the ward or town centre where it was done"
    else:
        place = {f"{kind}_id": choice.id}
    references = split_references(values.get("reports") or "")
    reports: list[Report] = []
    if not references:
        errors["reports"] = "Give the reference of at least one report that prompted it"
    elif len(references) > MAX_REPORTS:
        errors["reports"] = f"Link at most {MAX_REPORTS} reports"
    else:
        reports, missing = _linkable_reports(session, user, references)
        if missing:
            errors["reports"] = (
                "No report "
                + ", ".join(missing)
                + " among those sent or shared to your team: check the reference"
                + ("s" if len(missing) > 1 else "")
            )
    if errors:
        raise InvalidInput(errors)
    assert done_on is not None
    return ActionInput(
        title=title,
        body=body,
        done_on=done_on,
        report_ids=tuple(report.id for report in reports),
        **place,
    )


# ---- Publishing, changing, withdrawing ---------------------------------------------------


def publish(session: Session, user: User | None, data: ActionInput, now: datetime) -> PartnerAction:
    """Publish an action for the user's partner."""
    author = require_publisher(user)
    assert author.partner_id is not None
    action = PartnerAction(
        partner_id=author.partner_id,
        created_by=author,
        created_at=now,
        title=data.title,
        body=data.body,
        done_on=data.done_on,
        ward_id=data.ward_id,
        area_id=data.area_id,
    )
    session.add(action)
    session.flush()
    _link(session, action, data.report_ids)
    return action


def _link(session: Session, action: PartnerAction, report_ids: Iterable[int]) -> None:
    session.add_all(PartnerActionReport(action_id=action.id, report_id=rid) for rid in report_ids)
    session.flush()
    session.expire(action, ["reports"])


def action_of_partner(session: Session, user: User | None, action_id: int) -> PartnerAction:
    """One of the user's partner's actions; ``NotFound`` for any other partner's."""
    author = require_publisher(user)
    action = session.get(PartnerAction, action_id)
    if action is None or action.partner_id != author.partner_id:
        raise NotFound(f"no action {action_id} of your team")
    return action


def edit(
    session: Session, user: User | None, action_id: int, data: ActionInput, now: datetime
) -> PartnerAction:
    """Change an action of the user's partner: its words, date, place and linked reports.

    Links to reports the partner can no longer see (moved to another partner since) are kept:
    the form shows only the ones it can, and a partner cannot unlink what it cannot see.
    """
    action = action_of_partner(session, user, action_id)
    assert user is not None
    action.title, action.body, action.done_on = data.title, data.body, data.done_on
    action.ward_id, action.area_id = data.ward_id, data.area_id
    action.updated_at, action.updated_by = now, user
    current = set(
        session.scalars(
            select(PartnerActionReport.report_id).where(PartnerActionReport.action_id == action.id)
        )
    )
    visible = set(
        session.scalars(select(Report.id).where(Report.id.in_(current), visibility(user)))
    )
    for stale in visible - set(data.report_ids):
        session.delete(session.get(PartnerActionReport, (action.id, stale)))
    session.flush()
    _link(session, action, [rid for rid in data.report_ids if rid not in current])
    return action


def withdraw(session: Session, user: User | None, action_id: int, now: datetime) -> PartnerAction:
    """Take an action off every public page; the row stays, with who withdrew it and when."""
    action = action_of_partner(session, user, action_id)
    if action.withdrawn_at is None:
        action.withdrawn_at, action.withdrawn_by = now, user
        session.flush()
    return action


def partner_actions(session: Session, user: User | None) -> list[PartnerAction]:
    """The user's partner's actions, newest first, withdrawn ones included."""
    author = require_publisher(user)
    return list(
        session.scalars(
            select(PartnerAction)
            .options(selectinload(PartnerAction.reports))
            .where(PartnerAction.partner_id == author.partner_id)
            .order_by(PartnerAction.done_on.desc(), PartnerAction.id.desc())
        )
    )


def linked_references(session: Session, user: User, action: PartnerAction) -> list[str]:
    """The references of an action's reports the user can see, for its edit form."""
    return list(
        session.scalars(
            select(Report.reference)
            .join(PartnerActionReport, PartnerActionReport.report_id == Report.id)
            .where(PartnerActionReport.action_id == action.id, visibility(user))
            .order_by(Report.created_at)
        )
    )


# ---- What the public sees ----------------------------------------------------------------


@dataclass(frozen=True)
class LinkedReport:
    """A linked report the public may see one by one."""

    reference: str
    category: str


@dataclass(frozen=True)
class ShownAction:
    """An action as an audience may see it."""

    id: int
    title: str
    body: str
    done_on: date
    partner: str
    place: str
    ward_slug: str | None
    ward_name: str | None
    area_slug: str | None
    # How many reports prompted it, suppressed as the board's counts are.
    reports: Shown
    # The linked reports the public may see one by one; never a sensitive one.
    linked: tuple[LinkedReport, ...]


def _shown(action: PartnerAction, audience: BoardAudience, min_count: int) -> ShownAction:
    sensitive = sum(1 for report in action.reports if report.category.sensitive)
    linked = tuple(
        LinkedReport(report.reference, report.category.name)
        for report in action.reports
        if disclose(report, Audience.PUBLIC).listed
    )
    place = (
        f"{action.ward.name} ward"
        if action.ward is not None
        else (action.area.name if action.area is not None else "")
    )
    return ShownAction(
        id=action.id,
        title=action.title,
        body=action.body,
        done_on=action.done_on,
        partner=action.partner.name,
        place=place,
        ward_slug=action.ward.slug if action.ward is not None else None,
        ward_name=action.ward.name if action.ward is not None else None,
        area_slug=action.area.slug if action.area is not None else None,
        reports=shown(
            len(action.reports) - sensitive, sensitive, audience=audience, min_count=min_count
        ),
        linked=linked,
    )


def _published() -> Select[tuple[PartnerAction]]:
    return (
        select(PartnerAction)
        .options(
            selectinload(PartnerAction.reports),
            selectinload(PartnerAction.partner),
            selectinload(PartnerAction.ward),
            selectinload(PartnerAction.area),
        )
        .where(PartnerAction.withdrawn_at.is_(None))
        .order_by(PartnerAction.done_on.desc(), PartnerAction.id.desc())
    )


def public_actions(
    session: Session,
    *,
    min_count: int,
    today: date,
    ward_slug: str | None = None,
    area_slug: str | None = None,
    limit: int = 50,
    audience: BoardAudience = BoardAudience.PUBLIC,
) -> list[ShownAction]:
    """Actions done within the last year, newest first, for a ward (by slug: wards are
    versioned) or a town centre, or everywhere when neither is given."""
    query = _in_place(_published(), ward_slug, area_slug)
    query = query.where(PartnerAction.done_on >= today - RECENT)
    return [_shown(a, audience, min_count) for a in session.scalars(query.limit(limit))]


def _in_place(
    query: Select[tuple[PartnerAction]], ward_slug: str | None, area_slug: str | None
) -> Select[tuple[PartnerAction]]:
    if ward_slug:
        query = query.where(
            PartnerAction.ward_id.in_(select(Ward.id).where(Ward.slug == ward_slug))
        )
    if area_slug:
        query = query.where(
            PartnerAction.area_id.in_(select(Area.id).where(Area.slug == area_slug))
        )
    return query


def actions_between(
    session: Session,
    start: date,
    end: date,
    *,
    audience: BoardAudience,
    min_count: int,
    ward_slug: str | None = None,
    area_slug: str | None = None,
) -> list[ShownAction]:
    """Actions done from ``start`` to ``end`` (both inclusive) in a ward or a town centre if
    given, for the board pack."""
    query = _in_place(_published(), ward_slug, area_slug)
    query = query.where(PartnerAction.done_on >= start, PartnerAction.done_on <= end)
    return [_shown(a, audience, min_count) for a in session.scalars(query)]


def by_place(actions: Sequence[ShownAction]) -> list[tuple[str, list[ShownAction]]]:
    """Actions grouped under their ward or town centre, places in alphabetical order."""
    groups: dict[str, list[ShownAction]] = {}
    for action in actions:
        groups.setdefault(action.place, []).append(action)
    return sorted(groups.items())


def actions_for_report(session: Session, report: Report, *, min_count: int) -> list[ShownAction]:
    """The published actions a report prompted, for its tracking page.

    Only pages that already show the report ask: the tracking page answers only where the
    policy lets its reader see the report at all.
    """
    query = _published().where(
        PartnerAction.id.in_(
            select(PartnerActionReport.action_id).where(PartnerActionReport.report_id == report.id)
        )
    )
    return [_shown(a, BoardAudience.PUBLIC, min_count) for a in session.scalars(query)]


def actions_by_id(
    session: Session, action_ids: Sequence[int], *, min_count: int
) -> list[ShownAction]:
    """Some actions as the public sees them, leaving out any withdrawn since (alert emails)."""
    if not action_ids:
        return []
    query = _published().where(PartnerAction.id.in_(action_ids))
    return [_shown(a, BoardAudience.PUBLIC, min_count) for a in session.scalars(query)]
