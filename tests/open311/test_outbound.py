"""The Open311 send method's domain against a scripted case system on a local port: which
reports are posted, what a post carries (and never carries), failures kept with their error
and tried again after a backoff, and updates read back through the workflow, each once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from safer_streets.api import keys
from safer_streets.models import (
    EmailOutbox,
    Open311Send,
    Partner,
    PartnerSendMethod,
    ReportAccess,
    ReportEvent,
    ReportStatus,
    SendMethod,
)
from safer_streets.notifications import outbox
from safer_streets.open311 import outbound
from safer_streets.settings import Settings, SettingsError
from workers.queue import READ_CASE_SYSTEM_UPDATES, SWEEP_CASE_SYSTEMS, make_celery

SNT = "met-snt-rushey-green"
LEASE = timedelta(minutes=5)
client_for = outbound.client_factory(2.0)


def make_open311(db_session, endpoint: str, **changes) -> PartnerSendMethod:
    partner = db_session.scalar(select(Partner).where(Partner.slug == SNT))
    case_system = keys.create_client(
        db_session, name="SNT case system (Open311)", partner_slug=SNT, actor=None
    ).client
    values = {
        "service_codes": {},
        "open311_since": datetime.now(UTC) - timedelta(minutes=1),
        **changes,
    }
    method = PartnerSendMethod(
        partner_id=partner.id,
        method=SendMethod.OPEN311,
        endpoint=endpoint,
        api_key="k3y",
        api_client=case_system,
        **values,
    )
    db_session.add(method)
    db_session.flush()
    return method


def queued_row(db_session, report) -> Open311Send:
    assert outbound.queue_unsent(db_session, report_ids=[report.id]) == 1
    return db_session.scalar(select(Open311Send).where(Open311Send.report_id == report.id))


def test_an_open311_partner_has_its_reports_posted_instead_of_emailed(
    db_session, routed_report, server
):
    endpoint, _script = server
    make_open311(db_session, endpoint)
    report = routed_report(db_session, category="drug-dealing")
    assert report.owner.slug == SNT
    new_report_emails = db_session.scalars(
        select(EmailOutbox).where(
            EmailOutbox.report_id == report.id, EmailOutbox.kind == outbox.Kind.NEW_REPORT
        )
    ).all()
    assert new_report_emails == []
    row = queued_row(db_session, report)
    assert row.partner_id == report.owner_partner_id
    # Written once, however often the sweep runs.
    assert outbound.queue_unsent(db_session) == 0


def test_reports_routed_before_the_partner_took_open311_are_left_to_its_email(
    db_session, routed_report, server
):
    endpoint, _script = server
    report = routed_report(db_session, category="drug-dealing")
    make_open311(db_session, endpoint, open311_since=datetime.now(UTC) + timedelta(seconds=1))
    assert outbound.queue_unsent(db_session, report_ids=[report.id]) == 0


def test_a_post_carries_the_owner_staff_view_and_never_the_reporters_contact_details(
    db_session, routed_report, server
):
    endpoint, script = server
    make_open311(db_session, endpoint, service_codes={"weapons": "WPN"}, jurisdiction_id="lbl")
    report = routed_report(
        db_session,
        category="weapons",
        description="Someone showed a knife by the bus stop",
        anonymous=False,
        contact_email="resident@example.org",
        contact_name="Ada Resident",
        contact_phone="07700 900123",
    )
    row = queued_row(db_session, report)
    script.answer(200, [{"service_request_id": "CASE-1"}])
    now = datetime.now(UTC)
    assert outbound.send(db_session, row.id, client_for, now)

    [(method, path, form)] = script.received
    assert (method, path) == ("POST", "/open311/v2/requests.json")
    assert form["service_code"] == ["WPN"]
    assert form["jurisdiction_id"] == ["lbl"]
    assert form["api_key"] == ["k3y"]
    assert float(form["lat"][0]) == pytest.approx(51.4452)
    description = form["description"][0]
    assert description.startswith("Someone showed a knife by the bus stop")
    assert description.endswith(f"Safer Streets reference: {report.reference}")
    sent = " ".join(value for values in form.values() for value in values)
    for private in ("resident@example.org", "Ada", "07700"):
        assert private not in sent
    assert not {"email", "first_name", "last_name", "phone", "media_url"} & set(form)

    assert (row.service_request_id, row.sent_at, row.attempts) == ("CASE-1", now, 1)
    event = db_session.scalar(
        select(ReportEvent).where(
            ReportEvent.report_id == report.id, ReportEvent.kind == outbound.EVENT_SENT
        )
    )
    assert not event.public
    assert "CASE-1" in event.note
    # Weapons is sensitive: what left for the case system is in the access log.
    [access] = db_session.scalars(
        select(ReportAccess).where(ReportAccess.report_id == report.id)
    ).all()
    assert access.surface == outbound.ACCESS_SURFACE
    assert access.api_client_id is not None
    # Sent once: a redelivered task posts nothing.
    assert not outbound.send(db_session, row.id, client_for, now)
    assert len(script.received) == 1


def test_a_failed_post_keeps_its_error_and_is_tried_again_after_a_backoff(
    db_session, routed_report, server
):
    endpoint, script = server
    make_open311(db_session, endpoint)
    report = routed_report(db_session, category="drug-dealing")
    row = queued_row(db_session, report)
    now = datetime.now(UTC)
    assert outbound.claim_due(db_session, now, lease=LEASE) == [row.id]
    script.status, script.body = 503, b"Service unavailable"
    assert not outbound.send(db_session, row.id, client_for, now)
    assert row.attempts == 1
    assert "HTTP 503: Service unavailable" in row.last_error
    assert row.next_attempt_at == now + timedelta(seconds=60)
    assert outbound.claim_due(db_session, now + timedelta(seconds=59), lease=LEASE) == []
    later = now + timedelta(seconds=61)
    assert outbound.claim_due(db_session, later, lease=LEASE) == [row.id]
    script.answer(200, [{"service_request_id": "CASE-2"}])
    assert outbound.send(db_session, row.id, client_for, later)
    assert row.sent_at == later
    assert row.last_error is None
    assert row.attempts == 2


def test_a_refused_post_waits_for_an_admins_retry(db_session, routed_report, server):
    endpoint, script = server
    make_open311(db_session, endpoint)
    report = routed_report(db_session, category="drug-dealing")
    row = queued_row(db_session, report)
    script.answer(400, [{"code": 400, "description": "service_code: unknown"}])
    now = datetime.now(UTC)
    assert not outbound.send(db_session, row.id, client_for, now)
    assert row.attempts == outbound.MAX_ATTEMPTS
    assert "(refused: not tried again until retried)" in row.last_error
    assert outbound.claim_due(db_session, now + timedelta(days=30), lease=LEASE) == []
    assert outbound.unsent(db_session, row.partner_id) == [row]
    outbound.retry(db_session, row.partner_id, row.id)
    assert outbound.claim_due(db_session, now, lease=LEASE) == [row.id]


def update(update_id: str, status: str, description: str, at: datetime) -> dict:
    return {
        "update_id": update_id,
        "service_request_id": "CASE-9",
        "status": status,
        "updated_datetime": at.isoformat(),
        "description": description,
    }


def test_updates_are_made_through_the_workflow_once_and_a_refused_one_is_kept_as_a_note(
    db_session, routed_report, server
):
    endpoint, script = server
    method = make_open311(db_session, endpoint)
    report = routed_report(db_session, category="drug-dealing")
    row = queued_row(db_session, report)
    script.answer(200, [{"service_request_id": "CASE-9"}])
    now = datetime.now(UTC)
    assert outbound.send(db_session, row.id, client_for, now)

    # "Fixed" straight from routed is not a move our workflow allows (acknowledge first).
    script.answer(200, [update("u1", "fixed", "All done.", now)])
    read = outbound.fetch_updates(db_session, method.partner_id, client_for, now, lookback=LEASE)
    assert read.applied == 1
    assert report.status is ReportStatus.ROUTED
    note = db_session.scalars(
        select(ReportEvent)
        .where(ReportEvent.report_id == report.id, ReportEvent.kind == "note")
        .order_by(ReportEvent.id.desc())
    ).first()
    assert not note.public
    assert "says fixed: All done." in note.note
    assert "not applied here" in note.note
    window = script.received[-1][2]
    start = datetime.fromisoformat(window["start_date"][0])
    assert start == (method.open311_since - LEASE).replace(microsecond=0)

    later = now + timedelta(minutes=5)
    script.answer(
        200,
        [
            update("u1", "fixed", "All done.", now),
            update("u2", "investigating", "Officers are on it.", later),
        ],
    )
    read = outbound.fetch_updates(db_session, method.partner_id, client_for, later, lookback=LEASE)
    assert read.applied == 1
    assert report.status is ReportStatus.ACKNOWLEDGED
    acknowledged = db_session.scalar(
        select(ReportEvent).where(
            ReportEvent.report_id == report.id, ReportEvent.kind == "acknowledged"
        )
    )
    assert acknowledged.public
    assert acknowledged.note == "Officers are on it."
    assert acknowledged.api_client_id == method.api_client_id
    assert row.last_update_at == later
    assert method.updates_read_at == later
    # Updates of requests we never sent are none of this report's business.
    script.answer(200, [{**update("u3", "fixed", "Other", later), "service_request_id": "X"}])
    assert (
        outbound.fetch_updates(
            db_session, method.partner_id, client_for, later, lookback=LEASE
        ).applied
        == 0
    )


def test_a_partner_whose_updates_cannot_be_read_is_read_again_from_the_last_good_read(
    db_session, routed_report, server
):
    endpoint, script = server
    method = make_open311(db_session, endpoint)
    report = routed_report(db_session, category="drug-dealing")
    row = queued_row(db_session, report)
    script.answer(200, [{"service_request_id": "CASE-9"}])
    now = datetime.now(UTC)
    assert outbound.send(db_session, row.id, client_for, now)
    script.answer(200, [])
    outbound.fetch_updates(db_session, method.partner_id, client_for, now, lookback=LEASE)
    assert method.updates_read_at == now

    script.status, script.body = 502, b"Bad gateway"
    later = now + timedelta(minutes=5)
    with pytest.raises(outbound.Open311Error) as raised:
        outbound.fetch_updates(db_session, method.partner_id, client_for, later, lookback=LEASE)
    outbound.record_read_failure(db_session, method.partner_id, raised.value)
    assert method.updates_read_at == now
    assert "HTTP 502: Bad gateway" in method.updates_error

    script.answer(200, [])
    outbound.fetch_updates(db_session, method.partner_id, client_for, later, lookback=LEASE)
    start = datetime.fromisoformat(script.received[-1][2]["start_date"][0])
    assert start == (now - LEASE).replace(microsecond=0)
    assert method.updates_error is None


def test_the_sweep_and_the_update_read_run_on_the_beat_at_their_settings():
    settings = Settings.from_env(
        {
            "SAFER_STREETS_SECRET_KEY": "x",
            "SAFER_STREETS_OPEN311_SWEEP_EVERY_SECONDS": "20",
            "SAFER_STREETS_OPEN311_UPDATES_EVERY_SECONDS": "120",
        }
    )
    schedule = make_celery(settings).conf.beat_schedule
    assert schedule["sweep-case-systems"] == {"task": SWEEP_CASE_SYSTEMS, "schedule": 20.0}
    assert schedule["read-case-system-updates"] == {
        "task": READ_CASE_SYSTEM_UPDATES,
        "schedule": 120.0,
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OPEN311_TIMEOUT_SECONDS", "0", "OPEN311_TIMEOUT_SECONDS must be more than 0"),
        ("OPEN311_TIMEOUT_SECONDS", "soon", "OPEN311_TIMEOUT_SECONDS must be a number"),
        ("OPEN311_RETRY_BASE_SECONDS", "0", "OPEN311_RETRY_BASE_SECONDS must be at least 1"),
        ("OPEN311_UPDATES_LOOKBACK_HOURS", "-1", "must not be negative"),
    ],
)
def test_a_wrong_open311_setting_fails_fast_and_says_which(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"SAFER_STREETS_SECRET_KEY": "x", f"SAFER_STREETS_{name}": value})


def test_nothing_is_made_in_the_name_of_a_case_system_whose_client_was_revoked(
    db_session, routed_report, server
):
    endpoint, script = server
    method = make_open311(db_session, endpoint)
    report = routed_report(db_session, category="drug-dealing")
    row = queued_row(db_session, report)
    script.answer(200, [{"service_request_id": "CASE-9"}])
    now = datetime.now(UTC)
    assert outbound.send(db_session, row.id, client_for, now)
    keys.revoke_client(db_session, method.api_client_id, actor=None)
    script.answer(200, [update("u1", "investigating", "Officers are on it.", now)])
    read = outbound.fetch_updates(db_session, method.partner_id, client_for, now, lookback=LEASE)
    assert read.applied == 0
    assert report.status is ReportStatus.ROUTED


def test_a_report_that_cannot_be_turned_into_a_post_ends_up_before_an_admin(
    db_session, routed_report, server
):
    endpoint, _script = server
    make_open311(db_session, endpoint)
    report = routed_report(db_session, category="drug-dealing")
    row = queued_row(db_session, report)
    now = datetime.now(UTC)
    for attempt in range(1, outbound.MAX_ATTEMPTS + 1):
        outbound.record_failure(db_session, row.id, KeyError("ward"), now)
        assert row.attempts == attempt
    assert row.last_error == "KeyError: 'ward'"
    assert outbound.claim_due(db_session, now + timedelta(days=1), lease=LEASE) == []
    assert outbound.unsent(db_session, row.partner_id) == [row]


def test_a_report_closed_here_before_its_post_went_is_not_posted(db_session, routed_report, server):
    endpoint, script = server
    make_open311(db_session, endpoint)
    report = routed_report(db_session, category="drug-dealing")
    row = queued_row(db_session, report)
    report.status = ReportStatus.NOT_ACTIONABLE
    db_session.flush()
    assert not outbound.send(db_session, row.id, client_for, datetime.now(UTC))
    assert script.received == []
    assert row.last_error == "not sent: closed here (not_actionable) before its turn"
    assert outbound.unsent(db_session, row.partner_id) == [row]
