""" "Is it fixed?" end to end: weeks after a report is resolved its reporter is emailed once,
with their private link; the answer is recorded once, "not fixed" reopens the report, and the
answers make each partner's satisfaction measure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from safer_streets.models import EmailOutbox, ReportEvent, ReportStatus, Role
from safer_streets.residents import questionnaire
from safer_streets.settings import Settings
from tests.helpers import Mailbox, body_of, login
from tests.residents.test_alerts import send_all

REPORTER = "reporter@example.org"
NOW = datetime.now(UTC)
AFTER = timedelta(days=28)


@pytest.fixture
def inbox(mailbox: Mailbox) -> Mailbox:
    mailbox.clear()
    return mailbox


def resolved(session: Session, report, days_ago: int, email: str | None = REPORTER):
    report.contact_email = email
    report.status = ReportStatus.RESOLVED
    report.acknowledged_at = NOW - timedelta(days=days_ago + 1)
    report.resolved_at = NOW - timedelta(days=days_ago)
    session.flush()
    return report


def asked_reports(session: Session) -> set[int]:
    return set(
        session.scalars(select(EmailOutbox.report_id).where(EmailOutbox.kind == "questionnaire"))
    )


def test_reporters_are_asked_once_weeks_after_the_fix(db_session, routed_report):
    due = resolved(db_session, routed_report(db_session), days_ago=29)
    recent = resolved(db_session, routed_report(db_session), days_ago=10)
    no_email = resolved(db_session, routed_report(db_session), days_ago=40, email=None)
    open_one = routed_report(db_session, contact_email=REPORTER)

    assert len(questionnaire.queue_questionnaires(db_session, NOW, after=AFTER)) == 1
    assert questionnaire.queue_questionnaires(db_session, NOW, after=AFTER) == []
    assert asked_reports(db_session) == {due.id}
    assert {recent.id, no_email.id, open_one.id}.isdisjoint(asked_reports(db_session))
    db_session.refresh(due)
    assert questionnaire.asked(due)


def test_the_email_links_to_the_question_and_not_fixed_reopens(
    app, db_session, routed_report, settings: Settings, inbox: Mailbox
):
    report = resolved(db_session, routed_report(db_session), days_ago=29)
    questionnaire.queue_questionnaires(db_session, NOW, after=AFTER)
    send_all(db_session, settings)
    (mail,) = inbox.to(REPORTER)
    assert mail["Subject"] == f"Is it fixed? Your report {report.reference}"
    match = re.search(r"http://safer-streets\.test(/track/\S+)#is-it-fixed", body_of(mail))
    assert match, body_of(mail)
    link = match.group(1)

    client = app.test_client()
    assert "Is the problem you reported fixed now?" in client.get(link).text
    answer = link.replace("?key=", "/answer?key=")
    missing = client.post(answer, data={"words": "Still dumped there"})
    assert missing.status_code == 422
    assert "say whether it is fixed" in missing.text and "Still dumped there" in missing.text

    response = client.post(answer, data={"fixed": "not_fixed", "words": "Still dumped there"})
    assert response.status_code == 303
    db_session.refresh(report)
    assert report.status is ReportStatus.IN_PROGRESS
    [answered] = db_session.scalars(
        select(ReportEvent).where(
            ReportEvent.report_id == report.id, ReportEvent.kind == "questionnaire_answered"
        )
    ).all()
    assert answered.data["fixed"] is False and answered.note == "Still dumped there"
    assert not answered.public
    assert "open again" in client.get(response.headers["Location"]).text

    again = client.post(answer, data={"fixed": "fixed"})
    assert again.status_code == 422 and "already answered" in again.text


def test_by_reference_alone_no_answer_is_taken(app, db_session, routed_report):
    report = resolved(db_session, routed_report(db_session), days_ago=29)
    questionnaire.queue_questionnaires(db_session, NOW, after=AFTER)
    response = app.test_client().post(
        f"/track/{report.reference}/answer", data={"fixed": "not_fixed"}
    )
    assert response.status_code == 404
    db_session.refresh(report)
    assert report.status is ReportStatus.RESOLVED


def test_a_report_reopened_before_the_email_goes_is_not_asked(
    db_session, routed_report, settings: Settings, inbox: Mailbox
):
    report = resolved(db_session, routed_report(db_session), days_ago=29)
    questionnaire.queue_questionnaires(db_session, NOW, after=AFTER)
    report.status = ReportStatus.IN_PROGRESS
    db_session.flush()
    send_all(db_session, settings)
    assert inbox.to(REPORTER) == []


def test_the_board_sees_each_partners_share_said_fixed(app, db_session, routed_report, make_user):
    reports = [
        resolved(db_session, routed_report(db_session, category="fly-tipping"), days_ago=30)
        for _ in range(3)
    ]
    questionnaire.queue_questionnaires(db_session, NOW, after=AFTER)
    for report, fixed in zip(reports, ("fixed", "fixed", "not_fixed"), strict=True):
        db_session.refresh(report)
        questionnaire.answer(
            db_session, report, fixed, None, now=NOW, reopen_within=timedelta(days=56)
        )
    db_session.commit()
    make_user("board@example.org", None, Role.BOARD)
    board = app.test_client()
    login(board, "board@example.org")
    page = board.get("/board/partners").text.split('id="partner-table"', 1)[1]
    row = re.search(
        rf"<th scope=\"row\">{re.escape(reports[0].owner.name)}</th>.*?</tr>", page, re.S
    )
    assert row and "67% of 3</td>" in row.group(0)
