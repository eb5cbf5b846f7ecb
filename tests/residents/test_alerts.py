"""Area alerts end to end: subscribe, confirm through the emailed link, a matching report, the
alert with its one-click unsubscribe, unsubscribe, nothing more; digests; distance and town
centres; nothing private in any email."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.suntimes import LONDON
from safer_streets.models import AlertDelivery, AlertFrequency, AlertSubscription, EmailOutbox
from safer_streets.notifications import outbox
from safer_streets.residents import alerts
from safer_streets.settings import Settings
from tests.helpers import Mailbox, body_of
from tests.residents.conftest import CATFORD, LEWISHAM_CENTRAL

RESIDENT = "resident@example.org"


def send_all(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Send every unsent outbox email, as the worker would."""
    mailer = outbox.SmtpMailer.from_settings(settings)
    ids = outbox.unsent_ids(session)
    return sum(
        outbox.deliver(session, outbox_id, mailer, settings, now or datetime.now(UTC))
        for outbox_id in ids
    )


def link_in(message, path: str) -> str:
    match = re.search(rf"http://safer-streets\.test(/alerts/{path}/\S+)", body_of(message))
    assert match, body_of(message)
    return match.group(1)


def subscribe(client: FlaskClient, **fields: str | list[str]) -> None:
    response = client.post("/alerts/new", data={"email": RESIDENT, **fields})
    assert response.status_code == 303, response.text


def sweep(session: Session, frequency=AlertFrequency.IMMEDIATE, now=None) -> list[int]:
    now = now or datetime.now(UTC)
    alerts.match_new_reports(session, now)
    return alerts.queue_alert_emails(session, now, frequency)


@pytest.fixture
def inbox(mailbox: Mailbox) -> Mailbox:
    mailbox.clear()
    return mailbox


def confirmed(client: FlaskClient, session: Session, settings: Settings, inbox: Mailbox, **fields):
    """Subscribe and confirm through the link in the email, as a resident would."""
    subscribe(client, **fields)
    send_all(session, settings)
    (mail,) = inbox.to(RESIDENT)
    inbox.clear()
    link = link_in(mail, "confirm")
    assert "Confirm" in client.get(link).text
    response = client.post(link)
    assert response.status_code == 200 and "Your alert is on" in response.text
    return session.scalars(select(AlertSubscription)).one()


def test_subscribe_confirm_alert_unsubscribe(
    app_with, db_session: Session, settings: Settings, inbox: Mailbox, routed_report
):
    app: Flask = app_with()
    client = app.test_client()
    subscribe(client, where="ward", ward="rushey-green")
    assert send_all(db_session, settings) == 1
    (mail,) = inbox.to(RESIDENT)
    assert "Rushey Green ward" in mail["Subject"]
    assert "List-Unsubscribe" not in mail  # not on any list until confirmed

    # Nothing is sent before confirming, and following the link alone confirms nothing.
    routed_report(db_session, category="fly-tipping")
    assert sweep(db_session) == []
    link = link_in(mail, "confirm")
    client.get(link)
    assert db_session.scalars(select(AlertSubscription)).one().confirmed_at is None
    assert client.post(link).status_code == 200
    inbox.clear()

    fly = routed_report(db_session, category="fly-tipping", description="Sofa dumped by the gate")
    drugs = routed_report(
        db_session,
        category="drug-dealing",
        lat=CATFORD[0] + 0.0004,
        description="Dealing from the blue car, registration AB12 CDE",
    )
    harassment = routed_report(db_session, category="harassment", description="followed me home")
    elsewhere = routed_report(
        db_session, category="fly-tipping", lat=LEWISHAM_CENTRAL[0], lon=LEWISHAM_CENTRAL[1]
    )
    assert len(sweep(db_session)) == 1
    assert sweep(db_session) == []  # a second sweep finds nothing new to send
    send_all(db_session, settings)
    (alert,) = inbox.to(RESIDENT)
    body = body_of(alert)
    assert fly.reference in body and drugs.reference in body
    assert "Sofa dumped by the gate" in body  # environmental: the words are public
    assert "AB12" not in body  # safety: private until a partner publishes a checked version
    assert harassment.reference not in body and "followed me" not in body
    assert elsewhere.reference not in body
    assert "On or near" in body  # the police.uk street point, not the spot
    unsubscribe = alert["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://safer-streets.test/alerts/unsubscribe/")
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.removeprefix("http://safer-streets.test") in body

    # One click from the mail program: a POST with no form token, as RFC 8058 has it.
    strict = app_with()
    strict.config["WTF_CSRF_ENABLED"] = True
    path = unsubscribe.removeprefix("http://safer-streets.test")
    assert "Stop these emails" in strict.test_client().get(path).text
    response = strict.test_client().post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert db_session.scalar(select(func.count()).select_from(AlertSubscription)) == 0
    assert strict.test_client().post(path).status_code == 200  # twice reads the same

    inbox.clear()
    routed_report(db_session, category="fly-tipping")
    assert sweep(db_session) == []
    send_all(db_session, settings)
    assert inbox.to(RESIDENT) == []


def test_a_daily_digest_once_a_day_after_seven(
    client: FlaskClient, db_session: Session, settings: Settings, inbox: Mailbox, routed_report
):
    confirmed(
        client,
        db_session,
        settings,
        inbox,
        where="area",
        area="catford-town-centre",
        frequency="daily",
        category=["fly-tipping"],
    )
    first = routed_report(db_session, category="fly-tipping")
    second = routed_report(db_session, category="fly-tipping")
    routed_report(db_session, category="anti-social-behaviour")  # not a chosen category
    today = datetime.now(UTC).astimezone(LONDON).date()
    early = datetime(today.year, today.month, today.day, 6, tzinfo=LONDON) + timedelta(days=1)
    later = early + timedelta(hours=2)
    assert sweep(db_session, AlertFrequency.DAILY, early) == []
    assert sweep(db_session, AlertFrequency.IMMEDIATE, later) == []  # not for daily alerts
    assert len(sweep(db_session, AlertFrequency.DAILY, later)) == 1
    assert sweep(db_session, AlertFrequency.DAILY, later + timedelta(hours=1)) == []
    send_all(db_session, settings)
    (digest,) = inbox.to(RESIDENT)
    assert digest["Subject"].startswith("Today's new reports")
    assert first.reference in body_of(digest) and second.reference in body_of(digest)
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (delivery,) = db_session.scalars(select(AlertDelivery)).all()
    assert delivery.report_ids == sorted([first.id, second.id]) and delivery.outbox_id


def test_a_distance_around_a_postcode_or_street(
    client: FlaskClient, db_session: Session, settings: Settings, inbox: Mailbox, routed_report
):
    subscription = confirmed(
        client,
        db_session,
        settings,
        inbox,
        where="distance",
        place="Catford Broadway",
        radius="250",
    )
    assert subscription.place_label == "250 m around Catford Broadway"
    near = routed_report(db_session, category="fly-tipping")
    far = routed_report(
        db_session, category="fly-tipping", lat=LEWISHAM_CENTRAL[0], lon=LEWISHAM_CENTRAL[1]
    )
    hidden = routed_report(db_session, category="weapons")
    alerts.match_new_reports(db_session, datetime.now(UTC))
    matched = {i for ids in db_session.scalars(select(AlertDelivery.report_ids)) for i in ids}
    assert near.id in matched
    assert far.id not in matched and hidden.id not in matched


def test_the_form_names_what_is_wrong(client: FlaskClient, db_session: Session):
    response = client.post(
        "/alerts/new",
        data={"email": "not an address", "where": "distance", "place": "", "radius": "10"},
    )
    assert response.status_code == 400
    assert "Enter an email address like name@example.com" in response.text
    assert "Choose a distance" in response.text
    assert "Enter a postcode, street or place" in response.text
    assert db_session.scalar(select(func.count()).select_from(AlertSubscription)) == 0
    harassment = client.post(
        "/alerts/new",
        data={"email": RESIDENT, "where": "ward", "ward": "rushey-green", "category": "harassment"},
    )
    assert harassment.status_code == 400
    assert 'value="harassment"' not in client.get("/alerts/new").text


def test_links_are_signed_and_for_one_purpose(
    client: FlaskClient, db_session: Session, settings: Settings, inbox: Mailbox
):
    subscription = confirmed(
        client, db_session, settings, inbox, where="ward", ward="catford-south"
    )
    confirm_token = alerts.token(subscription, settings.secret_key, "confirm")
    assert client.get(f"/alerts/unsubscribe/{confirm_token}").status_code == 404
    assert client.get("/alerts/unsubscribe/forged.token").status_code == 404
    assert client.post(f"/alerts/unsubscribe/{confirm_token}").status_code == 200
    assert db_session.get(AlertSubscription, subscription.id) is not None


def test_the_same_answer_whatever_the_address_holds(
    client: FlaskClient, db_session: Session, settings: Settings, inbox: Mailbox
):
    confirmed(client, db_session, settings, inbox, where="ward", ward="catford-south")
    subscribe(client, where="ward", ward="catford-south")
    assert (
        db_session.scalar(
            select(func.count()).select_from(EmailOutbox).where(EmailOutbox.sent_at.is_(None))
        )
        == 0
    )


def test_unconfirmed_subscriptions_are_forgotten_after_a_week(
    client: FlaskClient, db_session: Session
):
    subscribe(client, where="ward", ward="catford-south")
    assert alerts.forget_unconfirmed(db_session, datetime.now(UTC)) == 0
    assert alerts.forget_unconfirmed(db_session, datetime.now(UTC) + timedelta(days=8)) == 1


def test_beat_matches_alerts_every_minute_and_digests_hourly(settings: Settings):
    from workers.queue import MATCH_ALERTS, QUEUE_ALERT_DIGESTS, make_celery

    schedule = make_celery(settings).conf.beat_schedule
    assert schedule["match-alerts"] == {"task": MATCH_ALERTS, "schedule": 60.0}
    assert schedule["queue-alert-digests"]["task"] == QUEUE_ALERT_DIGESTS
