"""Moderating what the public sees, with a record of every change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.casework import moderation
from safer_streets.errors import InvalidInput
from safer_streets.models import Partner, Report, ReportEvent, ReportPhoto, Role
from tests.helpers import PASSWORDS

REPORT = {
    "category": "fly-tipping",
    "lat": 51.4452,
    "lon": -0.0207,
    "description": "Sofa dumped by John Smith at number 12",
}


@pytest.fixture
def report(client, db_session) -> Report:
    reference = client.post("/api/v1/reports", json=REPORT).get_json()["reference"]
    return db_session.scalars(select(Report).where(Report.reference == reference)).one()


@pytest.fixture
def moderator(db_session):
    return users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="mod@example.org",
        password="correct horse battery",
        role=Role.STAFF,
        partner_slug="lewisham-environment",
    )


def open311_description(client, reference: str) -> str | None:
    return client.get(f"/open311/v2/requests/{reference}.json").get_json()[0]["description"]


def test_a_redacted_description_is_what_the_public_sees_and_the_change_is_recorded(
    client, db_session, report, moderator
):
    moderation.moderate_description(
        db_session,
        report,
        moderator,
        public_text="Sofa dumped at [address removed]",
        reason="Names a person",
    )
    assert open311_description(client, report.reference) == "Sofa dumped at [address removed]"
    assert report.description == REPORT["description"]  # partners keep the original
    event = db_session.scalars(select(ReportEvent).where(ReportEvent.kind == "moderated")).one()
    assert event.actor_id == moderator.id
    assert not event.public
    assert event.data["before"] == REPORT["description"]
    assert "Names a person" in event.note


def test_a_hidden_description_is_not_published_and_can_be_restored(
    client, db_session, report, moderator
):
    moderation.moderate_description(db_session, report, moderator, public_text="", reason="Abusive")
    assert open311_description(client, report.reference) is None
    moderation.moderate_description(db_session, report, moderator, public_text=None, reason="Fine")
    assert open311_description(client, report.reference) == REPORT["description"]


def test_moderation_needs_a_reason(db_session, report, moderator):
    with pytest.raises(InvalidInput) as raised:
        moderation.moderate_description(db_session, report, moderator, public_text="", reason=" ")
    assert "reason" in raised.value.field_errors


def test_the_owner_moderates_from_the_report_page_and_others_cannot(client, db_session, report):
    for email, slug in (
        ("env@example.org", "lewisham-environment"),
        ("asb@example.org", "lewisham-asb"),
    ):
        users.create_user(
            db_session,
            passwords=PASSWORDS,
            email=email,
            password="correct horse battery",
            role=Role.STAFF,
            partner_slug=slug,
        )
    report.owner_partner_id = db_session.scalar(
        select(Partner.id).where(Partner.slug == "lewisham-environment")
    )
    db_session.flush()

    client.post("/login", data={"email": "env@example.org", "password": "correct horse battery"})
    page = client.get(f"/triage/reports/{report.reference}")
    assert "Moderate what the public sees" in page.text
    refused = client.post(
        f"/triage/reports/{report.reference}/moderate",
        data={"moderation": "hide", "reason": ""},
    )
    assert refused.status_code == 422
    done = client.post(
        f"/triage/reports/{report.reference}/moderate",
        data={"moderation": "hide", "reason": "Names a neighbour"},
    )
    assert done.status_code == 303
    assert open311_description(client, report.reference) is None

    client.post("/logout")
    client.post("/login", data={"email": "asb@example.org", "password": "correct horse battery"})
    assert (
        client.post(
            f"/triage/reports/{report.reference}/moderate",
            data={"moderation": "restore", "reason": "x"},
        ).status_code
        == 404
    )


def test_the_partner_report_page_shows_the_photo(client, db_session, report):
    db_session.add(
        ReportPhoto(
            report_id=report.id,
            content_type="image/jpeg",
            data=b"\xff\xd8x",
            width=1,
            height=1,
            sha256="0" * 64,
        )
    )
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email="env2@example.org",
        password="correct horse battery",
        role=Role.STAFF,
        partner_slug="lewisham-environment",
    )
    report.owner_partner_id = db_session.scalar(
        select(Partner.id).where(Partner.slug == "lewisham-environment")
    )
    db_session.flush()
    client.post("/login", data={"email": "env2@example.org", "password": "correct horse battery"})
    page = client.get(f"/triage/reports/{report.reference}")
    # Staff see it through the triage pages, which log views of sensitive reports' photos.
    assert f"/triage/reports/{report.reference}/photo" in page.text
    photo = client.get(f"/triage/reports/{report.reference}/photo")
    assert photo.data == b"\xff\xd8x"
    assert "no-store" in photo.headers["Cache-Control"]
