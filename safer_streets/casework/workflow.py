"""What partners do to reports: each action checks permission and state, says why when it
refuses, and records a ``ReportEvent`` with the actor and time.

The owner partner (or an administrator) acknowledges, assigns, prioritises, moves a report
along the workflow, re-routes it and marks duplicates. A notified partner works a joint case
without owning it: it adds internal notes and public updates. The board only reads.

This is the one status workflow: triage forms and partners' case systems (Open311
``servicerequestupdates``) both call these functions, so a report moves, refuses, records and
emails the resident the same way whichever door the change came through.

Changes to the report row carry the version the user's form was rendered with; if someone
else changed the report since, the action is refused with a ``Conflict`` instead of
overwriting their work (optimistic locking on ``Report.version_id``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from geo.suntimes import LONDON
from safer_streets.bounds import whole_number
from safer_streets.casework import access, moderation, sla
from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotFound,
    SaferStreetsError,
)
from safer_streets.intake import photos
from safer_streets.models import (
    ApiClient,
    Category,
    Partner,
    Priority,
    Report,
    ReportEvent,
    ReportNotifiedPartner,
    ReportStatus,
    ResponseTemplate,
    Role,
    User,
)
from safer_streets.notifications import outbox

P = ParamSpec("P")
R = TypeVar("R")
MAX_NOTE_CHARS = 4000
MAX_BULK = 200


class Action(enum.StrEnum):
    """Things a partner can do to a report."""

    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    PRIORITY = "priority"
    STATUS = "status"
    NOTE = "note"
    PUBLIC_UPDATE = "public_update"
    REROUTE = "reroute"
    DUPLICATE = "duplicate"
    MODERATE = "moderate"
    PHOTO = "photo"


# Only the owner (or an administrator) changes the report itself; notified partners on a
# joint case add to its record without taking it over.
OWNER_ACTIONS = frozenset(
    {
        Action.ACKNOWLEDGE,
        Action.ASSIGN,
        Action.PRIORITY,
        Action.STATUS,
        Action.REROUTE,
        Action.DUPLICATE,
        Action.MODERATE,
        Action.PHOTO,
    }
)
VERBS = {
    Action.ACKNOWLEDGE: "acknowledge it",
    Action.ASSIGN: "assign it",
    Action.PRIORITY: "set its priority",
    Action.STATUS: "change its status",
    Action.NOTE: "add notes",
    Action.PUBLIC_UPDATE: "post public updates",
    Action.REROUTE: "re-route it",
    Action.DUPLICATE: "mark it as a duplicate",
    Action.MODERATE: "moderate what the public sees",
    Action.PHOTO: "show its photo to the public",
}

S = ReportStatus
# The workflow: where each status may go next. Anything else is refused with the reason.
WORKFLOW: dict[ReportStatus, frozenset[ReportStatus]] = {
    S.ROUTED: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.NOT_ACTIONABLE, S.REFERRED}),
    S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.NOT_ACTIONABLE, S.REFERRED}),
    S.IN_PROGRESS: frozenset({S.RESOLVED, S.NOT_ACTIONABLE, S.REFERRED}),
    # Reopening: a fix that did not hold, or a referral that came back.
    S.RESOLVED: frozenset({S.IN_PROGRESS}),
    S.NOT_ACTIONABLE: frozenset({S.IN_PROGRESS}),
    S.REFERRED: frozenset({S.IN_PROGRESS}),
}
CLOSED = frozenset({S.RESOLVED, S.NOT_ACTIONABLE, S.REFERRED, S.DUPLICATE})
# Closing without doing anything needs a reason the resident and colleagues can read.
NEEDS_REASON = frozenset({S.NOT_ACTIONABLE, S.REFERRED})
WORKABLE = frozenset({S.ROUTED, S.ACKNOWLEDGED, S.IN_PROGRESS})


@dataclass(frozen=True)
class Outcome:
    """What an action did, in words for the user, the emails it queued and the event it
    recorded on the report (a case system refers back to it by id)."""

    message: str
    emails: tuple[int, ...] = ()
    event: ReportEvent | None = None


@dataclass
class BulkOutcome:
    """A bulk action: which reports changed and why the others were refused."""

    done: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    emails: list[int] = field(default_factory=list)


def label(status: ReportStatus) -> str:
    """A status as people say it: 'in progress'."""
    return status.value.replace("_", " ")


# ---- Checks ------------------------------------------------------------------------------


def authorise(
    session: Session, user: access.Actor, report: Report, action: Action
) -> access.Access:
    """May this user (or client) do this to this report? ``NotFound`` if it cannot even see it."""
    level = access.access(session, user, report)
    if level is access.Access.READ_ONLY:
        raise NotAllowed("the board can read every report but cannot change them")
    if level is access.Access.NOTIFIED and action in OWNER_ACTIONS:
        owner = report.owner.name if report.owner else "the owner"
        raise NotAllowed(
            f"only {owner}, which owns {report.reference}, can {VERBS[action]}; "
            "as a notified partner you can add notes and public updates"
        )
    return level


def allowed_actions(session: Session, user: User, report: Report) -> frozenset[Action]:
    """The actions the report page should offer this user."""
    try:
        level = access.access(session, user, report)
    except NotFound:
        return frozenset()
    if level is access.Access.READ_ONLY:
        return frozenset()
    if level is access.Access.NOTIFIED:
        return frozenset({Action.NOTE, Action.PUBLIC_UPDATE})
    return frozenset(Action)


def changed_at(report: Report) -> str:
    """When the report last changed, as an officer's clock shows it ('10:42')."""
    return report.updated_at.astimezone(LONDON).strftime("%H:%M")


def check_version(report: Report, expected_version: int | None) -> None:
    """Refuse a change made on a stale copy of the report."""
    if expected_version is not None and report.version_id != expected_version:
        raise Conflict(
            f"Someone else changed {report.reference} at {changed_at(report)}: "
            "review it and try again."
        )


def optimistic(action: Callable[P, R]) -> Callable[P, R]:
    """A concurrent change that committed between our check and our write (found by any
    flush, including an autoflush) becomes a ``Conflict``, not a lost update."""

    @wraps(action)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return action(*args, **kwargs)
        except StaleDataError:
            raise Conflict(
                "Someone else changed this report a moment ago: review it and try again."
            ) from None

    return wrapped


def _event(
    session: Session,
    report: Report,
    user: access.Actor | None,
    kind: str,
    *,
    note: str | None = None,
    public: bool = False,
    from_status: ReportStatus | None = None,
    to_status: ReportStatus | None = None,
    data: Mapping[str, Any] | None = None,
) -> ReportEvent:
    # No user: the reporter, through their private tracking link.
    partner = user.partner.slug if user is not None and user.partner else None
    event = ReportEvent(
        report_id=report.id,
        actor_id=user.id if isinstance(user, User) else None,
        api_client_id=user.id if isinstance(user, ApiClient) else None,
        kind=kind,
        note=note,
        public=public,
        from_status=from_status.value if from_status else None,
        to_status=to_status.value if to_status else None,
        data={"partner": partner, **(data or {})},
    )
    session.add(event)
    return event


def _note_text(text: str | None, field_name: str = "note", *, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise InvalidInput({field_name: "write something first"})
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput({field_name: f"must be at most {MAX_NOTE_CHARS} characters"})
    return text


# ---- Workflow ----------------------------------------------------------------------------


def check_transition(report: Report, to_status: ReportStatus) -> None:
    """Refuse a status change the workflow does not allow, saying why."""
    current = report.status
    if current is S.DUPLICATE:
        original = report.duplicate_of.reference if report.duplicate_of else "the original"
        raise InvalidTransition(
            f"{report.reference} is a duplicate, so it cannot become {label(to_status)}: "
            f"work on {original}, the report it duplicates"
        )
    if current is to_status:
        raise InvalidTransition(f"{report.reference} is already {label(current)}")
    allowed = WORKFLOW.get(current, frozenset())
    if to_status not in allowed:
        if not allowed:
            raise InvalidTransition(f"a {label(current)} report cannot change status")
        choices = ", ".join(label(s) for s in sorted(allowed, key=list(S).index))
        hint = " (acknowledge it first)" if to_status is S.RESOLVED and current is S.ROUTED else ""
        raise InvalidTransition(
            f"a {label(current)} report cannot become {label(to_status)}{hint}; "
            f"it can become: {choices}"
        )


def _move(report: Report, to_status: ReportStatus, now: datetime) -> ReportStatus:
    """Set a checked status and the times that go with it; returns the status it had."""
    from_status = report.status
    report.status = to_status
    if report.acknowledged_at is None:
        report.acknowledged_at = now
    if to_status in CLOSED:
        report.resolved_at = now
    elif from_status in CLOSED:
        report.resolved_at = None  # reopened: the resolve clock runs on from its due time
    return from_status


@optimistic
def change_status(
    session: Session,
    user: access.Actor,
    report: Report,
    to_status: ReportStatus | str,
    *,
    note: str | None = None,
    public: bool = False,
    expected_version: int | None = None,
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> Outcome:
    """Move a report along the workflow, optionally with a note for the resident.

    ``data`` is kept on the event beside who made the change (e.g. a case system's own id
    for the update).
    """
    try:
        to_status = ReportStatus(to_status)
    except ValueError:
        raise InvalidInput({"status": f"unknown status {to_status!r}"}) from None
    authorise(session, user, report, Action.STATUS)
    check_version(report, expected_version)
    check_transition(report, to_status)
    text = _note_text(note, required=False)
    if to_status in NEEDS_REASON and not text:
        raise InvalidInput({"note": f"say why it is {label(to_status)}"})
    from_status = _move(report, to_status, now)
    kind = "acknowledged" if to_status is S.ACKNOWLEDGED else "status_changed"
    event = _event(
        session,
        report,
        user,
        kind,
        note=text or None,
        public=bool(text) and public,
        from_status=from_status,
        to_status=to_status,
        data=data,
    )
    session.flush()  # now, so that a conflict surfaces inside the action
    emails = []
    if event.public:
        emails.append(outbox.public_update(session, report, event))
    # Supporters hear of the resolution even without a note: it is what they asked to know.
    if event.public or to_status is S.RESOLVED:
        emails.extend(outbox.supporter_updates(session, report, event))
    return Outcome(
        f"{report.reference} is now {label(to_status)}.", tuple(e for e in emails if e), event
    )


def acknowledge(
    session: Session,
    user: access.Actor,
    report: Report,
    *,
    expected_version: int | None = None,
    now: datetime,
) -> Outcome:
    """Say that the owner has seen the report and will look at it."""
    return change_status(
        session, user, report, S.ACKNOWLEDGED, expected_version=expected_version, now=now
    )


# ---- Assignment and priority -------------------------------------------------------------


def colleagues(session: Session, report: Report) -> list[User]:
    """Active accounts of the owner partner: the people a report can be assigned to."""
    if report.owner_partner_id is None:
        return []
    return list(
        session.scalars(
            select(User)
            .where(User.partner_id == report.owner_partner_id, User.active)
            .order_by(User.name, User.email)
        )
    )


@optimistic
def assign(
    session: Session,
    user: User,
    report: Report,
    assignee_id: int | str | None,
    *,
    expected_version: int | None = None,
    now: datetime,
) -> Outcome:
    """Give the report to a colleague in the owner partner (or to nobody)."""
    authorise(session, user, report, Action.ASSIGN)
    check_version(report, expected_version)
    assignee = None
    if assignee_id not in (None, ""):
        try:
            assignee = session.get(User, int(assignee_id))
        except (TypeError, ValueError):
            raise InvalidInput({"assignee": "choose someone from the list"}) from None
        owner = report.owner.name if report.owner else "the owner partner"
        if assignee is None or assignee.partner_id != report.owner_partner_id:
            raise InvalidInput(
                {"assignee": f"you can only assign to colleagues in {owner}"},
                message=f"Reports can only be assigned to people in {owner}.",
            )
        if not assignee.active:
            raise InvalidInput({"assignee": f"{assignee.display_name} is deactivated"})
    if report.assigned_to_id == (assignee.id if assignee else None):
        raise Conflict(
            f"{report.reference} is already assigned to {assignee.display_name}"
            if assignee
            else f"{report.reference} is not assigned to anyone"
        )
    previous = report.assigned_to.email if report.assigned_to else None
    report.assigned_to_id = assignee.id if assignee else None
    event = _event(
        session,
        report,
        user,
        "assigned",
        note=f"Assigned to {assignee.display_name}" if assignee else "Unassigned",
        data={"from": previous, "to": assignee.email if assignee else None},
    )
    session.flush()  # now, so that a conflict surfaces inside the action
    who = assignee.display_name if assignee else "nobody"
    return Outcome(f"{report.reference} is assigned to {who}.", event=event)


@optimistic
def set_priority(
    session: Session,
    user: User,
    report: Report,
    priority: Priority | str,
    *,
    expected_version: int | None = None,
    now: datetime,
) -> Outcome:
    """Say how urgently the owner means to act."""
    try:
        priority = Priority(priority)
    except ValueError:
        raise InvalidInput({"priority": "choose low, normal, high or urgent"}) from None
    authorise(session, user, report, Action.PRIORITY)
    check_version(report, expected_version)
    if report.priority is priority:
        raise Conflict(f"{report.reference} is already {priority.value} priority")
    previous = report.priority
    report.priority = priority
    event = _event(
        session,
        report,
        user,
        "priority_changed",
        note=f"Priority {previous.value} → {priority.value}",
        data={"from": previous.value, "to": priority.value},
    )
    session.flush()  # now, so that a conflict surfaces inside the action
    return Outcome(f"{report.reference} is now {priority.value} priority.", event=event)


# ---- Notes and public updates (owner and notified partners) -----------------------------


@optimistic
def add_note(
    session: Session,
    user: access.Actor,
    report: Report,
    text: str | None,
    *,
    public: bool = False,
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> Outcome:
    """An internal note for partners, or a public update for the resident's tracking page."""
    authorise(session, user, report, Action.PUBLIC_UPDATE if public else Action.NOTE)
    text = _note_text(text)
    event = _event(
        session,
        report,
        user,
        "public_update" if public else "note",
        note=text,
        public=public,
        data=data,
    )
    session.flush()
    emails = []
    if public:
        emails.append(outbox.public_update(session, report, event))
        emails.extend(outbox.supporter_updates(session, report, event))
    what = "Public update posted" if public else "Internal note added"
    return Outcome(f"{what} on {report.reference}.", tuple(e for e in emails if e), event)


# ---- The inspector form: everything an officer decides about a report, in one submit ------


@dataclass(frozen=True)
class Inspection:
    """What an officer asked for in one submit of the inspector form.

    ``None`` leaves a thing as it is (a notified partner's form has no assignee, priority or
    status); a value equal to the report's current one changes nothing either. ``assignee``
    ``""`` means nobody. The public update is the template's text, filled in, when the officer
    picked a template and left the update box empty.
    """

    assignee: str | None = None
    priority: str | None = None
    status: str | None = None
    public_update: str = ""
    template_id: str | None = None
    internal_note: str = ""


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill_template(body: str, report: Report, user: access.Actor) -> str:
    """A response template's text with {reference}, {category}, {ward} and {partner} filled
    in for this report; other braces are left as written."""
    partner = user.partner or report.owner
    values = {
        "reference": report.reference,
        "category": report.category.name.lower(),
        "ward": report.ward.name if report.ward else "Lewisham",
        "partner": partner.name if partner else "Safer Streets Lewisham",
    }
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)


@dataclass(frozen=True)
class _Plan:
    assignee: str | None
    priority: Priority | None
    status: ReportStatus | None
    public_text: str
    note_text: str


def _plan(session: Session, user: User, report: Report, asked: Inspection) -> _Plan:
    """Check the whole form before changing anything: every wrong field is named at once."""
    errors: dict[str, str] = {}
    current_assignee = str(report.assigned_to_id) if report.assigned_to_id else ""
    assignee = None
    if asked.assignee is not None and asked.assignee.strip() != current_assignee:
        authorise(session, user, report, Action.ASSIGN)
        assignee = asked.assignee.strip()
        number = whole_number(assignee)
        chosen = session.get(User, number) if number is not None else None
        if assignee and chosen is None:
            errors["assignee"] = "choose someone from the list"
        elif chosen is not None and (
            chosen.partner_id != report.owner_partner_id or not chosen.active
        ):
            errors["assignee"] = "choose an active colleague in the owner partner"
    priority = None
    if asked.priority not in (None, "", report.priority.value):
        authorise(session, user, report, Action.PRIORITY)
        try:
            priority = Priority(asked.priority)
        except ValueError:
            errors["priority"] = "choose low, normal, high or urgent"
    status = None
    if asked.status not in (None, "", report.status.value):
        authorise(session, user, report, Action.STATUS)
        try:
            status = ReportStatus(asked.status)
        except ValueError:
            errors["status"] = f"unknown status {asked.status!r}"
        else:
            # A move the workflow refuses is a clash with the report's state (409), as it is
            # for every door into the workflow, not a mistake in the form.
            check_transition(report, status)
    public_text = (asked.public_update or "").strip()
    if not public_text and asked.template_id:
        try:
            number = whole_number(asked.template_id)
            if number is None:
                raise NotFound("no such response template")
            public_text = fill_template(template_for(session, user, number).body, report, user)
        except NotFound:
            errors["template"] = "choose one of your partner's templates"
    note_text = (asked.internal_note or "").strip()
    for field_name, text, action in (
        ("public_update", public_text, Action.PUBLIC_UPDATE),
        ("internal_note", note_text, Action.NOTE),
    ):
        if text:
            authorise(session, user, report, action)
        if len(text) > MAX_NOTE_CHARS:
            errors[field_name] = f"must be at most {MAX_NOTE_CHARS} characters"
    if status in NEEDS_REASON and not (public_text or note_text):
        errors["status"] = (
            f"say why it is {label(status)} in the public update or the internal note"
        )
    if not errors and not (assignee is not None or priority or status or public_text or note_text):
        errors["inspector"] = "change something or write an update first"
    if errors:
        raise InvalidInput(errors)
    return _Plan(assignee, priority, status, public_text, note_text)


@optimistic
def inspect(
    session: Session,
    user: User,
    report: Report,
    asked: Inspection,
    *,
    expected_version: int | None,
    now: datetime,
) -> Outcome:
    """Apply the inspector form: assignment, priority, status, public update and internal
    note, each recorded as its own history entry, all or nothing; the resident is emailed
    once, for the public update."""
    check_version(report, expected_version)
    plan = _plan(session, user, report, asked)
    done: list[Outcome] = []
    # A savepoint, so that a refusal part-way (a concurrent change) leaves nothing applied.
    with session.begin_nested():
        if plan.assignee is not None:
            done.append(assign(session, user, report, plan.assignee, now=now))
        if plan.priority is not None:
            done.append(set_priority(session, user, report, plan.priority, now=now))
        public_text, note_text = plan.public_text, plan.note_text
        if plan.status is not None:
            # Words for the resident written with a status change travel on that change, as
            # a case system's Open311 status update with a description does: one entry, one
            # email. Closing without action takes its reason from the internal note otherwise.
            reason, public = "", False
            if public_text:
                reason, public, public_text = public_text, True, ""
            elif plan.status in NEEDS_REASON:
                reason, note_text = note_text, ""
            done.append(
                change_status(
                    session,
                    user,
                    report,
                    plan.status,
                    note=reason or None,
                    public=public,
                    now=now,
                )
            )
        if public_text:
            done.append(add_note(session, user, report, public_text, public=True, now=now))
        if note_text:
            done.append(add_note(session, user, report, note_text, now=now))
    return Outcome(
        " ".join(outcome.message for outcome in done),
        tuple(email for outcome in done for email in outcome.emails),
        done[-1].event,
    )


# ---- Re-routing and duplicates -----------------------------------------------------------


def reroute_targets(session: Session, report: Report) -> list[Partner]:
    """Partners a report can be moved to."""
    return list(
        session.scalars(
            select(Partner).where(Partner.id != report.owner_partner_id).order_by(Partner.name)
        )
    )


@optimistic
def reroute(
    session: Session,
    user: User,
    report: Report,
    partner_slug: str,
    reason: str | None,
    *,
    keep_informed: bool = False,
    expected_version: int | None = None,
    now: datetime,
) -> Outcome:
    """Move the report to another partner with a reason; the new owner is told by email.

    The old owner loses access unless it asks to stay informed (as a notified partner).
    """
    authorise(session, user, report, Action.REROUTE)
    check_version(report, expected_version)
    if report.status not in WORKABLE:
        raise InvalidTransition(
            f"{report.reference} is {label(report.status)}: only open reports can be re-routed"
        )
    errors: dict[str, str] = {}
    target = session.scalar(select(Partner).where(Partner.slug == (partner_slug or "").strip()))
    if target is None:
        errors["partner"] = "choose the partner to send it to"
    elif target.id == report.owner_partner_id:
        errors["partner"] = f"{target.name} already owns it"
    try:
        text = _note_text(reason, "reason")
    except InvalidInput as invalid:
        errors |= invalid.field_errors
    if errors or target is None:
        raise InvalidInput(errors)
    previous = report.owner
    previous_status = report.status
    report.owner_partner_id = target.id
    report.owner = target
    notified = session.get(ReportNotifiedPartner, (report.id, target.id))
    if notified is not None:
        session.delete(notified)
    if (
        keep_informed
        and previous is not None
        and session.get(ReportNotifiedPartner, (report.id, previous.id)) is None
    ):
        session.add(ReportNotifiedPartner(report_id=report.id, partner_id=previous.id))
    report.status = S.ROUTED
    report.routed_at = now
    report.acknowledged_at = None
    report.assigned_to_id = None
    report.acknowledge_due_at, report.resolve_due_at = sla.due_times(
        session, target.id, report.category_id, now
    )
    from_name = previous.name if previous else "no partner"
    report.routing_reason = f"Re-routed from {from_name} to {target.name}: {text}"
    event = _event(
        session,
        report,
        user,
        "rerouted",
        note=text,
        from_status=previous_status,
        to_status=S.ROUTED,
        data={
            "from": previous.slug if previous else None,
            "to": target.slug,
            "kept_informed": bool(keep_informed and previous),
        },
    )
    session.flush()  # now, so that a conflict surfaces inside the action
    session.expire(report, ["notified"])
    email = outbox.report_routed(session, report, event)
    return Outcome(
        f"{report.reference} was re-routed to {target.name}.", (email,) if email else (), event
    )


@optimistic
def mark_duplicate(
    session: Session,
    user: access.Actor,
    report: Report,
    original_reference: str,
    *,
    note: str | None = None,
    expected_version: int | None = None,
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> Outcome:
    """Close a report as the same problem as another; its supporters join the original.

    The resident is told which report to follow; a ``note`` adds the partner's own words.
    """
    authorise(session, user, report, Action.DUPLICATE)
    check_version(report, expected_version)
    if report.status not in WORKABLE:
        raise InvalidTransition(
            f"{report.reference} is {label(report.status)}: only open reports can be "
            "marked as duplicates"
        )
    reference = (original_reference or "").strip().upper()
    if not reference:
        raise InvalidInput({"original": "give the reference of the report it duplicates"})
    try:
        original = access.report_for(session, user, reference)
    except NotFound:
        raise InvalidInput({"original": f"there is no report {reference} in your queue"}) from None
    if original.id == report.id:
        raise InvalidInput({"original": "a report cannot duplicate itself"})
    if original.status is S.DUPLICATE:
        target = original.duplicate_of.reference if original.duplicate_of else "another report"
        raise InvalidInput(
            {"original": f"{original.reference} is itself a duplicate of {target}: use that"}
        )
    text = _note_text(note, required=False)
    from_status = report.status
    added = report.supporter_count + 1  # the duplicate's reporter now supports the original
    report.status = S.DUPLICATE
    report.duplicate_of_id = original.id
    report.resolved_at = now
    if report.acknowledged_at is None:
        report.acknowledged_at = now
    original.supporter_count += added
    event = _event(
        session,
        report,
        user,
        "marked_duplicate",
        note=(
            f"This is the same problem as report {original.reference}, which is being "
            "dealt with: follow that report for updates." + (f"\n\n{text}" if text else "")
        ),
        public=True,
        from_status=from_status,
        to_status=S.DUPLICATE,
        data={**(data or {}), "original": original.reference},
    )
    _event(
        session,
        original,
        user,
        "duplicate_merged",
        note=f"{report.reference} was marked as a duplicate of this report",
        data={"duplicate": report.reference, "supporters_added": added},
    )
    session.flush()  # now, so that a conflict surfaces inside the action
    email = outbox.public_update(session, report, event)
    emails = ((email,) if email else ()) + tuple(outbox.supporter_updates(session, report, event))
    return Outcome(
        f"{report.reference} is a duplicate of {original.reference}; "
        f"{added} supporter{'s' if added != 1 else ''} added to it.",
        emails,
        event,
    )


# ---- The reporter, through their private tracking link -----------------------------------
# Whoever holds the link (``Audience.REPORTER``; the views check it) adds to the report's
# record as partners do, through the same checks and events, but never changes what the
# public reads: their words are internal entries for the partners, and only a reopening (a
# status change) shows on the public record, without their words.


class ResidentSays(enum.StrEnum):
    """What the reporter can tell the partners about their report."""

    INFORMATION = "information"
    REPLY = "reply"
    STILL_A_PROBLEM = "still_a_problem"
    FIXED = "fixed"


RESIDENT_EVENT_KINDS = {
    ResidentSays.INFORMATION: "resident_information",
    ResidentSays.REPLY: "resident_reply",
    ResidentSays.STILL_A_PROBLEM: "resident_still_a_problem",
    ResidentSays.FIXED: "resident_says_fixed",
}
REOPENED_BY_RESIDENT = "reopened_by_resident"
REOPENED_NOTE = "Reopened: the person who reported this says it is still a problem."
# Words are needed where they are the point; "still a problem" and "fixed" may come alone.
NEEDS_WORDS = frozenset({ResidentSays.INFORMATION, ResidentSays.REPLY})


@dataclass(frozen=True)
class ResidentOutcome:
    """What the reporter's message did: the entry it recorded, whether it reopened the report,
    and whether it came too late to reopen it (the reporter is asked for a new report)."""

    event: ReportEvent
    reopened: bool = False
    too_late: bool = False


def replyable_updates(report: Report) -> list[ReportEvent]:
    """The partners' public updates on a report, which its reporter may answer."""
    return [
        e
        for e in report.events
        if e.public and e.note and e.kind not in {"routed", REOPENED_BY_RESIDENT}
    ]


def may_reopen(report: Report, now: datetime, reopen_within: timedelta) -> bool:
    """Whether the reporter's "still a problem" would reopen the report now: only a fix, and
    only for a while; after that it is a new problem, and a new report routes it afresh."""
    return (
        report.status is S.RESOLVED
        and report.resolved_at is not None
        and now - report.resolved_at <= reopen_within
    )


@optimistic
def resident_says(
    session: Session,
    report: Report,
    says: ResidentSays | str,
    text: str | None,
    *,
    in_reply_to: int | str | None = None,
    now: datetime,
    reopen_within: timedelta,
    data: Mapping[str, Any] | None = None,
) -> ResidentOutcome:
    """Record what the reporter says about their report; "still a problem" on a report
    resolved within ``reopen_within`` reopens it (to in progress, as a partner would)."""
    try:
        says = ResidentSays(says)
    except ValueError:
        raise InvalidInput({"says": "choose what you want to tell us"}) from None
    text = _note_text(text, "text", required=says in NEEDS_WORDS)
    extra: dict[str, Any] = {"by": "reporter", **(data or {})}
    if says is ResidentSays.REPLY:
        answered = {str(e.id): e for e in replyable_updates(report)}.get(str(in_reply_to))
        if answered is None:
            raise InvalidInput({"in_reply_to": "choose the update you are answering"})
        extra["in_reply_to"] = answered.id
    event = _event(session, report, None, RESIDENT_EVENT_KINDS[says], note=text or None, data=extra)
    if says is not ResidentSays.STILL_A_PROBLEM or report.status not in CLOSED:
        session.flush()
        return ResidentOutcome(event)
    if not may_reopen(report, now, reopen_within):
        session.flush()
        return ResidentOutcome(event, too_late=report.status is S.RESOLVED)
    check_transition(report, S.IN_PROGRESS)
    from_status = _move(report, S.IN_PROGRESS, now)
    _event(
        session,
        report,
        None,
        REOPENED_BY_RESIDENT,
        note=REOPENED_NOTE,
        public=True,
        from_status=from_status,
        to_status=S.IN_PROGRESS,
        data={"by": "reporter"},
    )
    session.flush()  # now, so that a conflict surfaces inside the action
    return ResidentOutcome(event, reopened=True)


# ---- Bulk actions ------------------------------------------------------------------------

BULK_ACTIONS = (Action.ACKNOWLEDGE, Action.ASSIGN, Action.PRIORITY, Action.STATUS)


def parse_selection(values: Sequence[str]) -> list[tuple[str, int | None]]:
    """Checkbox values 'LEW-ABCDE@3' as (reference, version the page showed)."""
    selection = []
    for value in values:
        reference, _, version = value.partition("@")
        selection.append((reference.strip().upper(), whole_number(version)))
    return selection


def bulk(
    session: Session,
    user: User,
    selection: Sequence[tuple[str, int | None]],
    action: str,
    value: str | None,
    *,
    now: datetime,
) -> BulkOutcome:
    """Apply one action to each selected report; each is checked and refused on its own."""
    if action not in {a.value for a in BULK_ACTIONS}:
        raise InvalidInput({"action": "choose acknowledge, assign, priority or status"})
    if not selection:
        raise InvalidInput({"selection": "tick at least one report"})
    if len(selection) > MAX_BULK:
        raise InvalidInput({"selection": f"at most {MAX_BULK} reports at a time"})
    outcome = BulkOutcome()
    for reference, version in selection:
        try:
            with session.begin_nested():
                report = access.report_for(session, user, reference)
                done = _apply(session, user, report, Action(action), value, version, now)
            outcome.done.append(reference)
            outcome.emails.extend(done.emails)
        except InvalidInput as invalid:
            outcome.refused[reference] = "; ".join(invalid.field_errors.values())
        except SaferStreetsError as error:
            outcome.refused[reference] = error.message
    return outcome


def _apply(
    session: Session,
    user: User,
    report: Report,
    action: Action,
    value: str | None,
    version: int | None,
    now: datetime,
) -> Outcome:
    if action is Action.ACKNOWLEDGE:
        return acknowledge(session, user, report, expected_version=version, now=now)
    if action is Action.ASSIGN:
        assignee = user.id if value == "me" else value
        return assign(session, user, report, assignee, expected_version=version, now=now)
    if action is Action.PRIORITY:
        return set_priority(session, user, report, value or "", expected_version=version, now=now)
    return change_status(session, user, report, value or "", expected_version=version, now=now)


# ---- Response templates ------------------------------------------------------------------


# The statuses a template may be written for: those a partner moves a report to.
TEMPLATE_STATUSES = (
    ReportStatus.ACKNOWLEDGED,
    ReportStatus.IN_PROGRESS,
    ReportStatus.RESOLVED,
    ReportStatus.REFERRED,
    ReportStatus.NOT_ACTIONABLE,
)


def templates_for(
    session: Session, user: User, report: Report | None = None
) -> list[ResponseTemplate]:
    """The user's partner's response templates; for a report, those of its category and those
    for any category, the report's own first, each group by status then title."""
    if user.partner_id is None:
        return []
    query = (
        select(ResponseTemplate)
        .options(joinedload(ResponseTemplate.category))
        .where(ResponseTemplate.partner_id == user.partner_id)
    )
    if report is not None:
        query = query.where(
            or_(
                ResponseTemplate.category_id.is_(None),
                ResponseTemplate.category_id == report.category_id,
            )
        )
    return list(
        session.scalars(
            query.order_by(
                ResponseTemplate.category_id.is_(None),
                ResponseTemplate.status.is_not(None),
                ResponseTemplate.status,
                ResponseTemplate.title,
            )
        )
    )


def template_for(session: Session, user: User, template_id: int | str) -> ResponseTemplate:
    """One of the user's partner's templates, or ``NotFound``."""
    try:
        template = session.get(ResponseTemplate, int(template_id))
    except (TypeError, ValueError):
        template = None
    if template is None or template.partner_id != user.partner_id:
        raise NotFound("no such response template")
    return template


def _require_partner_admin(user: User) -> None:
    if user.role is not Role.PARTNER_ADMIN or user.partner_id is None:
        raise NotAllowed("only a partner admin can manage response templates")


def save_template(
    session: Session,
    user: User,
    template_id: int | str | None,
    title: str,
    body: str,
    *,
    category: str | None = None,
    status: str | None = None,
) -> ResponseTemplate:
    """Create or edit one of the partner's response templates, for one category (slug) and
    one status, or any (None or "")."""
    _require_partner_admin(user)
    errors: dict[str, str] = {}
    category_id = None
    if category:
        category_id = session.scalar(select(Category.id).where(Category.slug == category))
        if category_id is None:
            errors["category"] = f"no category called {category!r}"
    if status and status not in {s.value for s in TEMPLATE_STATUSES}:
        errors["status"] = "choose one of the statuses offered, or any"
    title = (title or "").strip()
    if not title:
        errors["title"] = "give the template a short title"
    elif len(title) > 120:
        errors["title"] = "must be at most 120 characters"
    try:
        body = _note_text(body, "body")
    except InvalidInput as invalid:
        errors |= invalid.field_errors
    template = template_for(session, user, template_id) if template_id else None
    clash = session.scalar(
        select(ResponseTemplate).where(
            ResponseTemplate.partner_id == user.partner_id, ResponseTemplate.title == title
        )
    )
    if clash is not None and clash is not template:
        errors["title"] = f"there is already a template called {title!r}"
    if errors:
        raise InvalidInput(errors)
    if template is None:
        template = ResponseTemplate(partner_id=user.partner_id)
        session.add(template)
    template.title = title
    template.body = body
    template.category_id = category_id
    template.status = status or None
    session.flush()
    return template


def delete_template(session: Session, user: User, template_id: int | str) -> None:
    """Remove one of the partner's response templates."""
    _require_partner_admin(user)
    session.delete(template_for(session, user, template_id))
    session.flush()


def moderate(
    session: Session, user: User, report: Report, form_action: str, *, text: str, reason: str
) -> Outcome:
    """Change what the public sees of the report's description (owner partner only)."""
    authorise(session, user, report, Action.MODERATE)
    public_text = {"publish": text, "hide": "", "restore": None}.get(form_action, ...)
    if public_text is ...:
        raise InvalidInput({"moderation": "choose to publish edited text, hide it or restore it"})
    if form_action == "publish" and not text.strip():
        raise InvalidInput({"public_text": "write the text the public should see, or hide it"})
    moderation.moderate_description(
        session, report, user, public_text=public_text, reason=reason or ""
    )
    return Outcome(f"What the public sees of {report.reference} has been changed.")


def approve_photo(session: Session, user: User, report: Report, *, approved: bool) -> Outcome:
    """Show the report's photo to the public, or withdraw it (owner partner only; recorded in
    the report's history)."""
    authorise(session, user, report, Action.PHOTO)
    if approved and not disclose(report, Audience.PUBLIC).listed:
        raise InvalidInput(
            {"photo": f"the public never sees {report.category.name.lower()} reports"}
        )
    photos.set_photo_approved(session, report, actor=user, approved=approved)
    if approved:
        return Outcome(f"The photo of {report.reference} is now public.")
    return Outcome(f"The photo of {report.reference} is no longer public.")
