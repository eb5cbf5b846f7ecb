"""The abuse list: reports from listed addresses are kept but held until an admin decides."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.errors import InvalidInput
from safer_streets.intake import abuse
from safer_streets.models import Report, ReportEvent, ReportStatus, Role
from tests.helpers import PASSWORD, PASSWORDS, login

REPORT = {
    "category": "fly-tipping",
    "lat": 51.4452,
    "lon": -0.0207,
    "description": "Sofa",
    "contact_email": "Troll@Spam.example",
}


def submit(client, **changes):
    response = client.post("/api/v1/reports", json={**REPORT, **changes})
    assert response.status_code == 201
    return response.get_json()


@pytest.mark.parametrize("listed", ["troll@spam.example", "spam.example", " @SPAM.example "])
def test_a_listed_address_or_domain_holds_the_report(client, db_session, listed):
    abuse.add_entry(db_session, listed, "Repeated false reports", None)
    body = submit(client)
    assert body["status"] == "held"
    report = db_session.scalars(select(Report).where(Report.reference == body["reference"])).one()
    assert report.status is ReportStatus.HELD
    kinds = [e.kind for e in report.events]
    assert kinds == ["submitted", "held"]


def test_other_addresses_are_not_held(client, db_session):
    abuse.add_entry(db_session, "spam.example", "Repeated false reports", None)
    assert submit(client, contact_email="neighbour@example.org")["status"] == "received"
    assert submit(client, contact_email=None)["status"] == "received"


def test_entries_need_a_real_address_and_a_reason(db_session):
    with pytest.raises(InvalidInput) as raised:
        abuse.add_entry(db_session, "not an address", "", None)
    assert set(raised.value.field_errors) == {"value", "reason"}


def test_an_admin_releases_or_refuses_held_reports_from_the_admin_page(client, db_session):
    abuse.add_entry(db_session, "spam.example", "Repeated false reports", None)
    first, second = submit(client)["reference"], submit(client)["reference"]
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="admin@example.org",
        password=PASSWORD,
        role=Role.ADMIN,
        partner_slug=None,
    )
    login(client, "admin@example.org")

    page = client.get("/admin/abuse")
    assert first in page.text
    assert second in page.text
    client.post(f"/admin/held/{first}", data={"decision": "release", "note": "Genuine this time"})
    client.post(f"/admin/held/{second}", data={"decision": "refuse", "note": "Another hoax"})

    statuses = dict(db_session.execute(select(Report.reference, Report.status)).all())
    assert statuses[first] is ReportStatus.RECEIVED
    assert statuses[second] is ReportStatus.NOT_ACTIONABLE
    notes = db_session.scalars(
        select(ReportEvent.note).where(ReportEvent.kind.in_(["released", "refused"]))
    )
    assert set(notes) == {"Genuine this time", "Another hoax"}


def test_partner_staff_cannot_see_the_abuse_list(client, db_session):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="staff@example.org",
        password=PASSWORD,
        role=Role.STAFF,
        partner_slug="lewisham-asb",
    )
    client.post("/login", data={"email": "staff@example.org", "password": PASSWORD})
    assert client.get("/admin/abuse").status_code == 403


def test_an_admin_adding_a_bad_entry_sees_the_list_again_with_what_is_wrong(client, db_session):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="admin@example.org",
        password=PASSWORD,
        role=Role.ADMIN,
        partner_slug=None,
    )
    login(client, "admin@example.org")
    page = client.post("/admin/abuse", data={"value": "not an address", "reason": ""})
    assert page.status_code == 422
    assert "not an address" in page.text, "what was typed is kept"
    added = client.post("/admin/abuse", data={"value": "spam.example", "reason": "Hoaxes"})
    assert added.status_code == 303
    assert "spam.example" in client.get("/admin/abuse").text
