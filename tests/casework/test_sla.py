"""Service levels: due times fixed at routing from the partner's own targets, breaches shown
and counted per partner for the board, and the partner admin's settings pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.casework import sla
from safer_streets.errors import InvalidInput, NotAllowed
from safer_streets.models import Category, Partner, PartnerPreference, PartnerSla, Role
from tests.helpers import PASSWORD, PASSWORDS, login

OWNER = "met-snt-rushey-green"


def make(session, email, partner=OWNER, role=Role.STAFF):
    user = users.create_user(
        session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    session.flush()
    return user


def test_due_times_come_from_the_partner_defaults_or_its_own_category_targets(
    db_session, routed_report
):
    default = routed_report(db_session)
    assert default.acknowledge_due_at - default.routed_at == timedelta(hours=24)
    assert default.resolve_due_at - default.routed_at == timedelta(hours=336)

    partner = db_session.scalar(select(Partner).where(Partner.slug == OWNER))
    weapons = db_session.scalar(select(Category).where(Category.slug == "weapons"))
    db_session.add(
        PartnerSla(
            partner_id=partner.id,
            category_id=weapons.id,
            hours_to_acknowledge=2,
            hours_to_resolve=72,
        )
    )
    db_session.flush()
    urgent = routed_report(db_session, category="weapons")
    assert urgent.acknowledge_due_at - urgent.routed_at == timedelta(hours=2)
    assert urgent.resolve_due_at - urgent.routed_at == timedelta(hours=72)


def test_breaches_are_counted_per_partner_for_the_board_only(db_session, routed_report):
    late = routed_report(db_session)
    routed_report(db_session)
    late.acknowledge_due_at = datetime.now(UTC) - timedelta(minutes=5)
    db_session.flush()
    board = make(db_session, "board@example.org", None, Role.BOARD)
    rows = {
        r.partner_slug: r for r in sla.breaches_by_partner(db_session, board, datetime.now(UTC))
    }
    assert rows[OWNER].acknowledge_breached >= 1
    assert rows[OWNER].open >= 2
    with pytest.raises(NotAllowed):
        sla.breaches_by_partner(db_session, make(db_session, "sgt@rg.example"), datetime.now(UTC))


def test_only_partner_admins_set_targets_and_bad_hours_are_named(db_session):
    admin = make(db_session, "lead@rg.example", role=Role.PARTNER_ADMIN)
    with pytest.raises(InvalidInput) as refused:
        sla.set_target(db_session, admin, "weapons", "12", "6")
    assert refused.value.field_errors == {
        "hours_to_resolve": "must be at least the hours to acknowledge"
    }
    with pytest.raises(InvalidInput) as refused:
        sla.set_target(db_session, admin, "burglary", "soon", "0")
    assert set(refused.value.field_errors) == {
        "category",
        "hours_to_acknowledge",
        "hours_to_resolve",
    }
    with pytest.raises(NotAllowed):
        sla.set_target(db_session, make(db_session, "sgt@rg.example"), "weapons", "2", "72")
    row = sla.set_target(db_session, admin, "weapons", " 2 ", "72")
    assert (row.hours_to_acknowledge, row.hours_to_resolve) == (2, 72)


def test_partner_settings_pages(client, db_session):
    make(db_session, "lead@rg.example", role=Role.PARTNER_ADMIN)
    make(db_session, "sgt@rg.example")
    login(client, "lead@rg.example")
    assert "Hours to acknowledge" in client.get("/triage/team/settings").text
    saved = client.post(
        "/triage/team/settings/sla",
        data={"category": "weapons", "hours_to_acknowledge": "2", "hours_to_resolve": "48"},
    )
    assert saved.status_code == 303
    bad = client.post(
        "/triage/team/settings/sla",
        data={"category": "weapons", "hours_to_acknowledge": "x", "hours_to_resolve": "48"},
    )
    assert bad.status_code == 422 and "must be a whole number of hours" in bad.text
    digest = client.post("/triage/team/settings/emails", data={"new_report_emails": "daily_digest"})
    assert digest.status_code == 303
    partner = db_session.scalar(select(Partner).where(Partner.slug == OWNER))
    assert db_session.get(PartnerPreference, partner.id).new_report_emails.value == "daily_digest"
    templates = client.post(
        "/triage/team/templates", data={"title": "Patrol", "body": "We will patrol tonight."}
    )
    assert templates.status_code == 303
    assert "Patrol" in client.get("/triage/team/templates").text

    client.post("/logout")
    login(client, "sgt@rg.example")
    refused = client.post("/triage/team/settings/emails", data={"new_report_emails": "off"})
    assert refused.status_code == 403
    assert client.get("/triage/sla").status_code == 403


def test_the_board_sees_service_levels_by_partner(client, db_session, routed_report):
    routed_report(db_session)
    make(db_session, "board@example.org", None, Role.BOARD)
    login(client, "board@example.org")
    page = client.get("/triage/sla")
    assert page.status_code == 200
    assert "Met Police Rushey Green Safer Neighbourhood Team" in page.text
