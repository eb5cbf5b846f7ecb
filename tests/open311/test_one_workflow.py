"""Triage and Open311 are two doors to one workflow: each action, made by an officer through
the inspector form (or the duplicate form) and by the same partner's case system through
``servicerequestupdates`` on an equivalent report, ends the same way: the same status, the
same events, the same email to the resident (or none), the same supporters moved, and the
same refusals."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.models import EmailOutbox, Report, ReportEvent, Role
from tests.helpers import PASSWORD, PASSWORDS, login
from tests.open311.test_georeport import V2

OWNER = "met-snt-rushey-green"  # owns drug dealing at Catford Broadway
RESIDENT = "resident@example.org"
ORIGINAL = "{original}"  # stands for each channel's own original report


@dataclass(frozen=True)
class Step:
    """One action as a triage form (action path and fields) and as an Open311 update."""

    name: str
    triage: tuple[str, dict[str, str]]
    open311: dict[str, str]


def status(to: str, open311_status: str, reason: str | None = None) -> Step:
    form, update = {"status": to}, {"status": open311_status}
    if reason:
        form |= {"public_update": reason}
        update["description"] = reason
    return Step(f"{to}{' with a reason' if reason else ''}", ("inspect", form), update)


ACKNOWLEDGE = Step(
    "acknowledge", ("inspect", {"status": "acknowledged"}), {"status": "INVESTIGATING"}
)
IN_PROGRESS = status("in_progress", "IN_PROGRESS", "Patrols booked for Friday night")
IN_PROGRESS_QUIETLY = status("in_progress", "IN_PROGRESS")
RESOLVE = status("resolved", "FIXED", "Dispersal order in place; two arrests")
NOT_ACTIONABLE = status("not_actionable", "NO_FURTHER_ACTION", "Nothing seen on three visits")
NOT_ACTIONABLE_WITHOUT_REASON = status("not_actionable", "NO_FURTHER_ACTION")
REFER = status("referred", "INTERNAL_REFERRAL", "Passed to the council's ASB team")
REFER_WITHOUT_REASON = status("referred", "INTERNAL_REFERRAL")
REOPEN = Step(
    "reopen",
    ("inspect", {"status": "in_progress", "public_update": "It has started again"}),
    {"status": "REOPEN", "description": "It has started again"},
)
PUBLIC_UPDATE = Step(
    "public update",
    ("inspect", {"public_update": "Officers visited on Tuesday"}),
    {"status": "OPEN", "description": "Officers visited on Tuesday"},
)
DUPLICATE = Step(
    "duplicate",
    ("duplicate", {"original": ORIGINAL}),
    {"status": "DUPLICATE", "attribute[duplicate_of]": ORIGINAL},
)


@dataclass(frozen=True)
class Expected:
    """How the last step ends, whichever door it came through."""

    status: str
    emailed: bool = False
    refused: str | None = None  # "state" or "input"
    says: str | None = None  # words both refusals contain
    supporters_moved: bool = False  # by the end, the duplicate's supporters are the original's


SCENARIOS = [
    ([ACKNOWLEDGE], Expected("acknowledged")),
    ([IN_PROGRESS], Expected("in_progress", emailed=True)),
    ([IN_PROGRESS_QUIETLY], Expected("in_progress")),
    ([ACKNOWLEDGE, RESOLVE], Expected("resolved", emailed=True)),
    ([NOT_ACTIONABLE], Expected("not_actionable", emailed=True)),
    ([REFER], Expected("referred", emailed=True)),
    ([DUPLICATE], Expected("duplicate", emailed=True, supporters_moved=True)),
    ([PUBLIC_UPDATE], Expected("routed", emailed=True)),
    ([ACKNOWLEDGE, RESOLVE, REOPEN], Expected("in_progress", emailed=True)),
    ([NOT_ACTIONABLE, REOPEN], Expected("in_progress", emailed=True)),
    ([REFER, REOPEN], Expected("in_progress", emailed=True)),
    (
        [NOT_ACTIONABLE_WITHOUT_REASON],
        Expected("routed", refused="input", says="say why it is not actionable"),
    ),
    ([REFER_WITHOUT_REASON], Expected("routed", refused="input", says="say why it is referred")),
    (
        [RESOLVE],
        Expected("routed", refused="state", says="cannot become resolved (acknowledge it first)"),
    ),
    (
        [ACKNOWLEDGE, RESOLVE, NOT_ACTIONABLE],
        Expected("resolved", refused="state", says="cannot become not actionable"),
    ),
    (
        [DUPLICATE, REOPEN],
        Expected(
            "duplicate",
            refused="state",
            says="is a duplicate, so it cannot become",
            supporters_moved=True,
        ),
    ),
]


@dataclass(frozen=True)
class Result:
    """Everything an action leaves behind that the resident, partners or the record see."""

    refused: str | None
    status: str
    events: tuple[tuple[str | bool | None, ...], ...]
    emails: tuple[tuple[str, str, str], ...]
    supporters: tuple[int, int]
    original_events: tuple[tuple[str, str | None], ...]


# Triage answers a form with a redirect when done, 409 when the report's state refuses the
# move and 422 when a field is missing or wrong.
TRIAGE_REFUSALS = {303: None, 409: "state", 422: "input"}


def _by_triage(officer: FlaskClient, report: Report, original: Report, step: Step):
    action, form = step.triage
    form = {name: value.replace(ORIGINAL, original.reference) for name, value in form.items()}
    response = officer.post(f"/triage/reports/{report.reference}/{action}", data=form)
    assert response.status_code in TRIAGE_REFUSALS, response.text[:500]
    return TRIAGE_REFUSALS[response.status_code], html.unescape(response.text)


def _by_open311(case_system: FlaskClient, key: str, report: Report, original: Report, step):
    fields = {
        name: value.replace(ORIGINAL, original.reference) for name, value in step.open311.items()
    }
    response = case_system.post(
        f"{V2}/servicerequestupdates.json",
        data={"api_key": key, "service_request_id": report.reference, **fields},
    )
    if response.status_code == 200:
        return None, response.text
    assert response.status_code == 400, response.text
    (error,) = response.get_json()
    said = error["description"]
    # A move the workflow refuses is reported on the status parameter; anything else on its own.
    return ("state" if said.startswith("status:") else "input"), said


def _result(session, report: Report, original: Report, refused: str | None) -> Result:
    session.expire_all()

    def same(text: str | None) -> str | None:
        # References differ between the two equivalent pairs; the words around them must not.
        if not text:
            return text
        return text.replace(original.reference, ORIGINAL).replace(report.reference, "{report}")

    events = session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    ).all()
    emails = session.execute(
        select(EmailOutbox.kind, EmailOutbox.recipient, ReportEvent.kind)
        .join(ReportEvent, EmailOutbox.event_id == ReportEvent.id)
        .where(EmailOutbox.report_id == report.id)
        .order_by(EmailOutbox.id)
    ).all()
    original_events = session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == original.id).order_by(ReportEvent.id)
    ).all()
    return Result(
        refused=refused,
        status=report.status.value,
        events=tuple(
            (
                e.kind,
                e.from_status,
                e.to_status,
                same(e.note),
                e.public,
                (e.data or {}).get("partner"),
            )
            for e in events
        ),
        emails=tuple(tuple(row) for row in emails),
        supporters=(report.supporter_count, original.supporter_count),
        original_events=tuple((e.kind, same(e.note)) for e in original_events),
    )


def _emails_to_resident(session, report: Report) -> int:
    return len(
        session.scalars(
            select(EmailOutbox.id).where(
                EmailOutbox.report_id == report.id, EmailOutbox.recipient == RESIDENT
            )
        ).all()
    )


@pytest.mark.parametrize(
    ("steps", "expected"),
    SCENARIOS,
    ids=[" then ".join(step.name for step in steps) for steps, _ in SCENARIOS],
)
def test_triage_and_open311_end_the_same_way(
    app, db_session, routed_report, issue_key, steps, expected
):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="sgt@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=OWNER,
    )
    officer = app.test_client()
    login(officer, "sgt@rg.example")
    case_system = app.test_client()
    key = issue_key("SNT case system", partner=OWNER)
    doors = {
        "triage": lambda report, original, step: _by_triage(officer, report, original, step),
        "open311": lambda report, original, step: _by_open311(
            case_system, key, report, original, step
        ),
    }

    results: dict[str, tuple[Result, bool]] = {}
    *setup, last = steps
    for door, act in doors.items():
        original = routed_report(db_session, description="The same dealing, reported earlier")
        report = routed_report(db_session, contact_email=RESIDENT)
        report.supporter_count = 2
        db_session.flush()
        for step in setup:
            refused, said = act(report, original, step)
            assert refused is None, (door, step.name, said)
        emails_before = _emails_to_resident(db_session, report)
        refused, said = act(report, original, last)
        if expected.says:
            assert expected.says in said, (door, said)
        emailed = _emails_to_resident(db_session, report) > emails_before
        results[door] = (_result(db_session, report, original, refused), emailed)

    assert results["triage"] == results["open311"]
    result, emailed = results["open311"]
    assert (result.status, result.refused) == (expected.status, expected.refused)
    assert emailed is expected.emailed
    if expected.refused is None:
        assert result.events[-1][-1] == OWNER, "recorded as the owner partner's"
    if emailed:
        assert result.emails[-1] == ("public-update", RESIDENT, result.events[-1][0])
    if expected.supporters_moved:
        assert result.supporters == (2, 3), "the duplicate's reporter and supporters move"
        assert result.original_events[-1][0] == "duplicate_merged"
    else:
        assert result.supporters == (2, 0)
