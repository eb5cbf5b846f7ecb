"""Email on the real parts: outbox rows committed with the change, sent by a Celery worker
over SMTP to a local aiosmtpd server, read back from what arrived."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.casework import workflow
from safer_streets.db import make_session_factory, session_scope
from safer_streets.models import (
    EmailOutbox,
    NewReportEmails,
    Partner,
    PartnerPreference,
    Report,
    ReportStatus,
    Role,
)
from safer_streets.notifications import outbox
from tests.helpers import PASSWORD, PASSWORDS, body_of, csrf_token, login, wait_for_status
from workers.queue import SEND_EMAIL

CATFORD_BROADWAY = {"lat": 51.4452, "lon": -0.0207}
RESIDENT = "resident@example.org"


@pytest.mark.worker
def test_partner_and_resident_emails_arrive_once_with_links(
    live_app, worker, celery_app, engine, make_user, mailbox
):
    mailbox.clear()
    client = live_app.test_client()
    created = client.post(
        "/api/v1/reports",
        json={
            "category": "drug-dealing",
            **CATFORD_BROADWAY,
            "description": "Dealing at night",
            "contact_email": RESIDENT,
        },
    )
    reference = created.get_json()["reference"]
    wait_for_status(engine, reference, ReportStatus.ROUTED)

    (alert,) = mailbox.wait_for(lambda m: reference in m["Subject"])
    assert alert["To"] == "snt.rushey-green@met.police.uk"
    assert f"http://safer-streets.test/triage/reports/{reference}" in body_of(alert)
    assert RESIDENT not in body_of(alert), "no contact details in partner emails"

    make_user("sgt@rg.example", "met-snt-rushey-green")
    sergeant = live_app.test_client()
    login(sergeant, "sgt@rg.example")
    page = f"/triage/reports/{reference}"
    token = csrf_token(sergeant, page)
    response = sergeant.post(
        f"{page}/inspect",
        data={
            "csrf_token": token,
            "internal_note": "Suspect known to us",
            "public_update": "Officers visited",
        },
    )
    assert response.status_code == 303

    (update,) = mailbox.wait_for(lambda m: m["To"] == RESIDENT)
    assert update["Subject"] == f"Update on your report {reference}"
    assert "Officers visited" in body_of(update)
    assert "Suspect known to us" not in body_of(update)
    assert "\nStatus: Sent to " in body_of(update), "the status in residents' words, not 'routed'"
    assert f"http://safer-streets.test/track/{reference}" in body_of(update)

    tracking = client.get(f"/track/{reference}").text
    assert "Officers visited" in tracking and "Suspect known to us" not in tracking

    with session_scope(make_session_factory(engine)) as session:
        outbox_id = session.scalar(select(EmailOutbox.id).where(EmailOutbox.recipient == RESIDENT))
    for _ in range(2):  # a redelivered task
        celery_app.send_task(SEND_EMAIL, args=[outbox_id])
    mailbox.wait_for(lambda m: "Officers visited" in body_of(m))
    time.sleep(1)
    assert len(mailbox.to(RESIDENT)) == 1, "sent once however often the task runs"


def test_a_failed_send_is_recorded_and_a_later_attempt_delivers(
    db_session, routed_report, settings, mailbox
):
    mailbox.clear()
    report = routed_report(db_session, contact_email=RESIDENT)
    outbox_id = db_session.scalar(select(EmailOutbox.id).where(EmailOutbox.report_id == report.id))
    closed = outbox.SmtpMailer(host="127.0.0.1", port=1, timeout=1)
    with pytest.raises(ConnectionRefusedError), db_session.begin_nested():
        outbox.deliver(db_session, outbox_id, closed, settings, datetime.now(UTC))
    outbox.record_failure(db_session, outbox_id, ConnectionRefusedError("refused"))
    row = db_session.get(EmailOutbox, outbox_id)
    assert row.sent_at is None and row.attempts == 1 and "refused" in row.last_error

    working = outbox.SmtpMailer.from_settings(settings)
    assert outbox.deliver(db_session, outbox_id, working, settings, datetime.now(UTC))
    assert not outbox.deliver(db_session, outbox_id, working, settings, datetime.now(UTC))
    assert row.sent_at is not None
    mailbox.wait_for(lambda m: report.reference in m["Subject"])


def test_partners_who_chose_a_digest_get_one_email_a_morning(
    db_session, routed_report, settings, mailbox
):
    mailbox.clear()
    partner = db_session.scalar(select(Partner).where(Partner.slug == "met-snt-rushey-green"))
    db_session.add(
        PartnerPreference(partner_id=partner.id, new_report_emails=NewReportEmails.DAILY_DIGEST)
    )
    db_session.flush()
    first = routed_report(db_session)
    second = routed_report(db_session, category="weapons")
    assert not db_session.scalars(
        select(EmailOutbox).where(EmailOutbox.report_id.in_([first.id, second.id]))
    ).all(), "no immediate emails"

    # Both were routed overnight; the digest goes out in the morning, not before seven.
    for report in (first, second):
        report.routed_at = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    db_session.flush()
    before_seven = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    assert outbox.queue_digests(db_session, before_seven) == []
    morning = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    (digest_id,) = outbox.queue_digests(db_session, morning)
    assert outbox.queue_digests(db_session, morning) == [], "one a day"
    mailer = outbox.SmtpMailer.from_settings(settings)
    outbox.deliver(db_session, digest_id, mailer, settings, morning)
    (digest,) = mailbox.wait_for(lambda m: "new reports for" in m["Subject"])
    text = body_of(digest)
    assert digest["Subject"].startswith("2 new reports for Met Police Rushey Green")
    for report in (first, second):
        assert f"http://safer-streets.test/triage/reports/{report.reference}" in text


def test_rerouted_reports_email_the_new_owner_not_the_old(db_session, routed_report, settings):
    report = routed_report(db_session)
    sergeant = users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="sgt@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="met-snt-rushey-green",
    )
    workflow.reroute(db_session, sergeant, report, "tfl", "Bus stop issue", now=datetime.now(UTC))
    rows = db_session.scalars(
        select(EmailOutbox).where(EmailOutbox.report_id == report.id).order_by(EmailOutbox.id)
    ).all()
    assert [r.recipient for r in rows] == ["snt.rushey-green@met.police.uk", "streets@tfl.gov.uk"]
    assert outbox.compose(db_session, rows[0], settings) is None, "no longer theirs"
    body = body_of(outbox.compose(db_session, rows[1], settings))
    assert f"http://safer-streets.test/triage/reports/{report.reference}" in body
    assert "Re-routed from Met Police Rushey Green" in body


def test_outbox_keys_are_unique_per_report_kind_and_recipient(db_session, routed_report):
    report = routed_report(db_session)
    first = db_session.scalar(select(EmailOutbox).where(EmailOutbox.report_id == report.id))
    assert (
        outbox.queue_email(
            db_session,
            key=first.key,
            kind=first.kind,
            recipient=first.recipient,
            report_id=report.id,
        )
        is None
    )
    assert db_session.get(Report, report.id).owner.email in first.recipient
