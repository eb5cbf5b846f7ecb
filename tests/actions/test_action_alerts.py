"""A partner's new action goes out with residents' next area alert or digest, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.actions import partner_actions
from safer_streets.models import AlertDelivery, Role
from tests.helpers import PASSWORD, PASSWORDS, Mailbox, body_of
from tests.residents.test_alerts import RESIDENT, confirmed, send_all, sweep

pytestmark = pytest.mark.integration


@pytest.fixture
def inbox(mailbox: Mailbox) -> Mailbox:
    mailbox.clear()
    return mailbox


def _publish(session, report, reports, place="ward:rushey-green", title="New lighting"):
    staff = users.create_user(
        session,
        passwords=PASSWORDS,
        email=f"staff{len(title)}@rg.example",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug=report.owner.slug,
    )
    now = datetime.now(UTC)
    values = {
        "title": title,
        "body": "Six new street lights by the shops.",
        "done_on": (now.date() - timedelta(days=2)).isoformat(),
        "place": place,
        "reports": " ".join(r.reference for r in reports),
    }
    data = partner_actions.parse_action(session, staff, values, today=now.date())
    return partner_actions.publish(session, staff, data, now)


def test_an_action_goes_out_once_with_the_next_alert(
    client, db_session, settings, inbox, routed_report
):
    confirmed(client, db_session, settings, inbox, where="ward", ward="rushey-green")
    dealing = routed_report(db_session)
    harassment = routed_report(db_session, category="harassment", description="followed me")
    sweep(db_session)
    send_all(db_session, settings)
    inbox.clear()

    _publish(db_session, dealing, [dealing, harassment])
    _publish(db_session, dealing, [dealing], place="ward:bellingham", title="Elsewhere")
    assert len(sweep(db_session)) == 1
    assert sweep(db_session) == []  # each action is matched once
    send_all(db_session, settings)
    (alert,) = inbox.to(RESIDENT)
    body = body_of(alert)
    assert alert["Subject"].startswith("What the partnership did")
    assert "New lighting" in body and "Six new street lights" in body
    assert "after 1* report" in body  # the harassment report is counted only above the minimum
    assert harassment.reference not in body and "followed me" not in body
    assert "Elsewhere" not in body
    (delivery,) = db_session.scalars(
        select(AlertDelivery).where(AlertDelivery.action_ids != [])
    ).all()
    assert delivery.report_ids == [] and delivery.outbox_id


def test_a_withdrawn_action_is_not_sent(client, db_session, settings, inbox, routed_report):
    confirmed(client, db_session, settings, inbox, where="area", area="catford-town-centre")
    dealing = routed_report(db_session)
    sweep(db_session)
    send_all(db_session, settings)
    inbox.clear()
    action = _publish(db_session, dealing, [dealing], place="area:catford-town-centre")
    assert len(sweep(db_session)) == 1
    action.withdrawn_at = datetime.now(UTC)
    db_session.flush()
    send_all(db_session, settings)
    assert inbox.to(RESIDENT) == []


def test_categories_chosen_narrow_the_actions(client, db_session, settings, inbox, routed_report):
    confirmed(
        client,
        db_session,
        settings,
        inbox,
        where="ward",
        ward="rushey-green",
        category=["fly-tipping"],
    )
    dealing = routed_report(db_session)
    fly = routed_report(db_session, category="fly-tipping")
    sweep(db_session)
    send_all(db_session, settings)
    inbox.clear()
    _publish(db_session, dealing, [dealing], title="Patrols")
    assert sweep(db_session) == []
    _publish(db_session, fly, [fly], title="Bins cleared")
    assert len(sweep(db_session)) == 1
