"""The reporter's private link does things: add information, answer a partner's public update,
say "still a problem" (reopening a recent fix) or "fixed"; by reference alone it does nothing."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.casework.casefile import event_label
from safer_streets.intake import tracking
from safer_streets.models import ReportEvent, ReportStatus, Role
from tests.helpers import PASSWORD, PASSWORDS, login


def private_path(settings, report) -> str:
    return tracking.tracking_path(settings.secret_key, report.reference)


def say_path(settings, report) -> str:
    key = tracking.tracking_key(settings.secret_key, report.reference)
    return f"/track/{report.reference}/say?key={key}"


def events_of(session, report, kind):
    return session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id, ReportEvent.kind == kind)
    ).all()


def resolved(session, report, days_ago: int):
    report.status = ReportStatus.RESOLVED
    report.acknowledged_at = datetime.now(UTC) - timedelta(days=days_ago + 1)
    report.resolved_at = datetime.now(UTC) - timedelta(days=days_ago)
    session.flush()
    return report


def test_the_reporter_adds_information_that_only_partners_read(
    client, app, db_session, routed_report, settings
):
    report = routed_report(db_session)
    page = client.get(private_path(settings, report)).text
    assert "Add information" in page

    response = client.post(
        say_path(settings, report),
        data={"says": "information", "text": "He comes back every Friday around 9pm"},
    )
    assert response.status_code == 303
    assert tracking.KEY_PARAMETER in response.headers["Location"]
    [event] = events_of(db_session, report, "resident_information")
    assert event.note == "He comes back every Friday around 9pm"
    assert not event.public and event.actor_id is None
    assert event.data["by"] == "reporter"
    assert event_label(event) == "The reporter added information"
    followed = client.get(response.headers["Location"]).text
    assert "The team dealing with your report can now read this" in followed
    assert "every Friday" not in app.test_client().get(f"/track/{report.reference}").text


def test_by_reference_alone_nothing_can_be_said(app, db_session, routed_report):
    report = routed_report(db_session)
    anyone = app.test_client()
    assert "Add information" not in anyone.get(f"/track/{report.reference}").text
    for key in ("", "?key=0123456789abcdef0123456789abcdef"):
        response = anyone.post(
            f"/track/{report.reference}/say{key}", data={"says": "information", "text": "x"}
        )
        assert response.status_code == 404
    assert events_of(db_session, report, "resident_information") == []


def test_wrong_input_is_refused_with_its_reason_and_the_words_kept(
    client, db_session, routed_report, settings
):
    report = routed_report(db_session)
    empty = client.post(say_path(settings, report), data={"says": "information", "text": " "})
    assert empty.status_code == 422
    assert "write something first" in empty.text

    long = "Still there. " * 400
    too_long = client.post(say_path(settings, report), data={"says": "information", "text": long})
    assert too_long.status_code == 422
    assert "at most 4000 characters" in too_long.text
    assert html.escape(long.strip()) in too_long.text

    unknown = client.post(
        say_path(settings, report), data={"says": "reply", "text": "Yes", "in_reply_to": "999999"}
    )
    assert unknown.status_code == 422
    assert "choose the update you are answering" in unknown.text
    assert (
        db_session.scalars(
            select(ReportEvent).where(
                ReportEvent.report_id == report.id, ReportEvent.kind.like("resident_%")
            )
        ).all()
        == []
    )


def test_the_reporter_answers_a_partners_public_update(client, db_session, routed_report, settings):
    report = routed_report(db_session)
    update = ReportEvent(
        report_id=report.id, kind="public_update", note="Did it happen again?", public=True
    )
    db_session.add(update)
    db_session.flush()
    page = client.get(private_path(settings, report)).text
    assert "Answer this update" in page

    response = client.post(
        say_path(settings, report),
        data={"says": "reply", "text": "Yes, last night", "in_reply_to": str(update.id)},
    )
    assert response.status_code == 303
    [event] = events_of(db_session, report, "resident_reply")
    assert event.data["in_reply_to"] == update.id and not event.public


def test_still_a_problem_reopens_a_recent_fix_through_the_workflow(
    client, app, db_session, routed_report, settings
):
    report = resolved(db_session, routed_report(db_session), days_ago=3)
    response = client.post(
        say_path(settings, report), data={"says": "still_a_problem", "text": "Back again"}
    )
    assert response.status_code == 303
    db_session.refresh(report)
    assert report.status is ReportStatus.IN_PROGRESS and report.resolved_at is None
    [reopened] = events_of(db_session, report, "reopened_by_resident")
    assert reopened.public and reopened.from_status == "resolved"
    assert reopened.to_status == "in_progress"
    [words] = events_of(db_session, report, "resident_still_a_problem")
    assert words.note == "Back again" and not words.public
    public = app.test_client().get(f"/track/{report.reference}").text
    assert "says it is still a problem" in public and "Back again" not in public
    assert "open again" in client.get(response.headers["Location"]).text
    # Partners' case systems hear of it as of any other status change, without their words.
    feed = client.get("/open311/v2/servicerequestupdates.json").get_json()
    [update] = [u for u in feed if u["service_request_id"] == report.reference][-1:]
    assert update["status"] == "in_progress"
    assert "still a problem" in update["description"] and "Back again" not in str(feed)


def test_still_a_problem_long_after_the_fix_asks_for_a_new_report(
    client, db_session, routed_report, settings
):
    report = resolved(
        db_session, routed_report(db_session), days_ago=settings.reopen_within_days + 1
    )
    response = client.post(say_path(settings, report), data={"says": "still_a_problem"})
    assert response.status_code == 303
    db_session.refresh(report)
    assert report.status is ReportStatus.RESOLVED
    assert events_of(db_session, report, "reopened_by_resident") == []
    assert len(events_of(db_session, report, "resident_still_a_problem")) == 1
    page = client.get(response.headers["Location"]).text
    assert "please make a new report" in page
    assert "/report?category=drug-dealing&amp;lat=" in page


def test_fixed_is_recorded_without_changing_the_status(client, db_session, routed_report, settings):
    report = routed_report(db_session)
    response = client.post(say_path(settings, report), data={"says": "fixed"})
    assert response.status_code == 303
    db_session.refresh(report)
    assert report.status is ReportStatus.ROUTED
    assert len(events_of(db_session, report, "resident_says_fixed")) == 1


def test_the_forms_need_the_pages_csrf_token(client, app, db_session, routed_report, settings):
    report = routed_report(db_session)
    app.config["WTF_CSRF_ENABLED"] = True
    refused = client.post(say_path(settings, report), data={"says": "fixed"})
    assert refused.status_code == 400
    assert events_of(db_session, report, "resident_says_fixed") == []


def test_the_status_reads_in_residents_words(app, db_session, routed_report):
    report = routed_report(db_session, category="fly-tipping")
    anyone = app.test_client()
    words = {
        ReportStatus.ROUTED: f"Sent to {report.owner.name}",
        ReportStatus.ACKNOWLEDGED: f"Seen by {report.owner.name}",
        ReportStatus.IN_PROGRESS: "Being dealt with",
        ReportStatus.RESOLVED: "Fixed / dealt with",
    }
    for status, expected in words.items():
        report.status = status
        db_session.flush()
        page = anyone.get(f"/track/{report.reference}").text
        assert f'status-{status.value}">{html.escape(expected)}<' in page
        assert ">Routed<" not in page and ">Acknowledged<" not in page


def test_a_reference_is_found_however_it_was_typed(app, db_session, routed_report):
    report = routed_report(db_session, category="fly-tipping")
    code = report.reference.removeprefix("LEW-")
    anyone = app.test_client()
    for typed in (f"lew {code.lower()}", f"LEW{code}", f" LEW - {code} ", f"LEW–{code}"):
        found = anyone.get("/track", query_string={"reference": typed}, follow_redirects=True)
        assert found.status_code == 200, typed
        assert f"Report {report.reference}" in found.text
    direct = anyone.get(f"/track/lew{code.lower()}")
    assert direct.status_code == 301
    assert direct.headers["Location"].endswith(f"/track/{report.reference}")


def test_partners_read_what_the_reporter_said_in_the_reports_history(
    app, client, db_session, routed_report, settings
):
    report = routed_report(db_session)
    client.post(say_path(settings, report), data={"says": "information", "text": "Blue car again"})
    client.post(say_path(settings, report), data={"says": "fixed"})
    staff = app.test_client()
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="pc@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=report.owner.slug,
    )
    db_session.flush()
    login(staff, "pc@rg.example")
    page = staff.get(f"/triage/reports/{report.reference}").text
    assert "The reporter added information" in page and "Blue car again" in page
    assert "The reporter says it is fixed" in page
