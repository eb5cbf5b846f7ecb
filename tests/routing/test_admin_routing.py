"""The routing admin pages through the test client: admins only, CSRF, edits with history."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from safer_streets.accounts import users
from safer_streets.models import ReportEvent, Role, RoutingRule, RoutingRuleChange
from tests.helpers import PASSWORD, PASSWORDS, csrf_token, login

NOON = "2026-03-02T12:00:00+00:00"  # outside every rule's time window
DEPTFORD_HIGH_STREET = {"lat": 51.4780, "lon": -0.0257}


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def signed_in(app, db_session, email, role, partner=None):
    users.create_user(
        db_session,
        passwords=PASSWORDS,
        email=email,
        password=PASSWORD,
        role=role,
        partner_slug=partner,
    )
    client = app.test_client()
    login(client, email)
    return client


@pytest.fixture
def admin(csrf_app, db_session):
    return signed_in(csrf_app, db_session, "admin@lewisham.example", Role.ADMIN)


def rule_id_for(db_session, category, partner, area=None):
    query = select(RoutingRule.id).where(
        RoutingRule.category.has(slug=category), RoutingRule.partner.has(slug=partner)
    )
    if area:
        query = query.where(RoutingRule.area.has(slug=area))
    return db_session.scalars(query).one()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/routing")
    assert response.status_code == 302
    assert "/login?next=/admin/routing" in response.headers["Location"]


def test_partner_staff_and_the_board_may_not_edit_routing(csrf_app, db_session):
    staff = signed_in(csrf_app, db_session, "s@x.example", Role.STAFF, "lewisham-asb")
    board = signed_in(csrf_app, db_session, "b@x.example", Role.BOARD)
    for client in (staff, board):
        assert client.get("/admin/routing").status_code == 403
        assert client.post("/admin/routing/new", data={}).status_code in (400, 403)
        assert "Routing rules" not in client.get("/triage").text


def test_rules_are_listed_and_filtered(admin):
    page = admin.get("/admin/routing")
    assert page.status_code == 200
    assert "Routing rules" in page.text
    assert "Anything no other rule covers" in page.text
    filtered = admin.get(
        "/admin/routing?category=drug-dealing&place=catford-town-centre&role=notified"
    )
    assert "1 rule<" in filtered.text
    assert "Met Police Lewisham Town Centres Team" in filtered.text
    assert "Catford town centre" in filtered.text
    night = admin.get("/admin/routing?category=anti-social-behaviour&place=borough")
    assert "22:00–06:00" in night.text


def test_a_form_without_its_csrf_token_is_refused(admin):
    response = admin.post(
        "/admin/routing/new",
        data={"category": "weapons", "partner": "tfl", "role": "owner", "why": "x"},
    )
    assert response.status_code == 400
    assert "The form expired" in response.text


def test_adding_a_rule_needs_a_why_and_says_what_is_wrong_next_to_each_field(admin, db_session):
    token = csrf_token(admin, "/admin/routing/new")
    response = admin.post(
        "/admin/routing/new",
        data={
            "csrf_token": token,
            "category": "street-lighting",
            "place": "ward",
            "ward": "",
            "partner": "lewisham-highways",
            "role": "owner",
            "window_start": "25:00",
            "window_end": "",
            "reason": "badly-lit",
            "why": "  ",
        },
    )
    assert response.status_code == 422
    errors = dict(
        re.findall(
            r'id="([a-z_]+)-error"><span class="visually-hidden">Error:</span> ([^<]+)<',
            response.text,
        )
    )
    assert errors["why"].startswith("say why")
    assert errors["ward"] == "choose a ward"
    assert errors["window_start"] == "must be a time such as 22:00"
    assert errors["window_end"].startswith("give both times")
    assert errors["reason"].startswith("not a reason for street lighting")
    assert db_session.scalar(select(RoutingRuleChange).where(RoutingRuleChange.why == "")) is None


def test_an_admin_adds_edits_and_deactivates_a_rule_and_the_history_keeps_it_all(admin, db_session):
    token = csrf_token(admin, "/admin/routing/new")
    created = admin.post(
        "/admin/routing/new",
        data={
            "csrf_token": token,
            "category": "anti-social-behaviour",
            "place": "area",
            "area": "deptford-town-centre",
            "partner": "met-town-centre-team",
            "role": "notified",
            "window_start": "22:00",
            "window_end": "06:00",
            "why": "Deptford joins the town-centre night patrols",
        },
    )
    assert created.status_code == 303, created.text
    rule_page = created.headers["Location"]
    rule_id = int(rule_page.rstrip("/").rsplit("/", 1)[1])
    page = admin.get(rule_page)
    assert f"Rule {rule_id} added" in page.text
    assert "Deptford town centre" in page.text
    assert "22:00–06:00" in page.text

    token = csrf_token(admin, rule_page)
    edited = admin.post(
        rule_page,
        data={
            "csrf_token": token,
            "category": "anti-social-behaviour",
            "place": "area",
            "area": "deptford-town-centre",
            "partner": "met-snt-deptford",
            "role": "notified",
            "window_start": "21:00",
            "window_end": "06:00",
            "why": "The ward team covers evenings",
        },
    )
    assert edited.status_code == 303
    token = csrf_token(admin, rule_page)
    deactivated = admin.post(
        f"{rule_page}/active",
        data={"csrf_token": token, "active": "false", "why": "Patrols ended"},
    )
    assert deactivated.status_code == 303

    changes = db_session.scalars(
        select(RoutingRuleChange)
        .where(RoutingRuleChange.rule_id == rule_id)
        .order_by(RoutingRuleChange.id)
    ).all()
    assert [(c.action.value, c.why, c.actor.email) for c in changes] == [
        ("created", "Deptford joins the town-centre night patrols", "admin@lewisham.example"),
        ("edited", "The ward team covers evenings", "admin@lewisham.example"),
        ("deactivated", "Patrols ended", "admin@lewisham.example"),
    ]
    assert changes[1].before["partner"] == "met-town-centre-team"
    assert changes[1].after["partner"] == "met-snt-deptford"
    assert changes[1].before["window"] == "22:00–06:00"
    assert changes[1].after["window"] == "21:00–06:00"
    assert changes[2].after["active"] is False

    page = admin.get(rule_page).text
    assert "(inactive)" in page
    assert "met-town-centre-team → met-snt-deptford" in page
    assert "22:00–06:00 → 21:00–06:00" in page
    history = admin.get("/admin/routing/history").text
    assert "Patrols ended" in history
    assert f"rule {rule_id}" in history
    assert "by the seed data" in history


def test_a_duplicate_rule_and_a_change_of_nothing_are_refused(admin, db_session):
    rule_id = rule_id_for(db_session, "public-transport", "tfl")
    rule_page = f"/admin/routing/{rule_id}"
    token = csrf_token(admin, rule_page)
    same = {
        "csrf_token": token,
        "category": "public-transport",
        "place": "borough",
        "partner": "tfl",
        "role": "owner",
        "why": "Testing",
    }
    response = admin.post(rule_page, data=same)
    assert response.status_code == 422
    assert "nothing was changed" in response.text
    response = admin.post("/admin/routing/new", data=same)
    assert response.status_code == 422
    assert f"the same rule already exists (rule {rule_id})" in response.text


def test_the_fallback_rule_can_change_partner_but_never_be_deactivated(admin, db_session):
    fallback = db_session.scalars(
        select(RoutingRule.id).where(RoutingRule.category_id.is_(None))
    ).one()
    page = f"/admin/routing/{fallback}"
    token = csrf_token(admin, page)
    response = admin.post(
        f"{page}/active", data={"csrf_token": token, "active": "false", "why": "Tidy up"}
    )
    assert response.status_code == 422
    assert "cannot be deactivated" in response.text
    response = admin.post(
        page, data={"csrf_token": token, "partner": "lewisham-asb", "why": "ASB triages now"}
    )
    assert response.status_code == 303
    assert db_session.get(RoutingRule, fallback).partner.slug == "lewisham-asb"


def test_the_re_route_page_previews_then_moves_only_what_a_rule_change_concerns(
    admin, db_session, routed_report
):
    catford = routed_report(db_session, occurred_at=NOON)
    deptford = routed_report(db_session, occurred_at=NOON, **DEPTFORD_HIGH_STREET)
    assert (catford.owner.slug, deptford.owner.slug) == ("met-snt-rushey-green", "met-snt-deptford")
    token = csrf_token(admin, "/admin/routing/new")
    created = admin.post(
        "/admin/routing/new",
        data={
            "csrf_token": token,
            "category": "drug-dealing",
            "place": "area",
            "area": "catford-town-centre",
            "partner": "met-town-centre-team",
            "role": "owner",
            "why": "The town-centre team takes over dealing in Catford",
        },
    )
    assert created.status_code == 303, created.text

    page = admin.get("/admin/routing/reroute")
    assert page.status_code == 200
    assert "<dt>Routed reports checked</dt><dd>2</dd>" in page.text
    assert "<dt>Would get a new owner</dt><dd>1</dd>" in page.text
    assert (
        "<tr><td>drug-dealing</td><td>met-snt-rushey-green</td>"
        "<td>met-town-centre-team</td><td>1</td></tr>"
    ) in page.text
    assert "Re-route 1 report</button>" in page.text
    db_session.expire_all()
    assert catford.owner.slug == "met-snt-rushey-green"  # the preview moves nothing

    token = csrf_token(admin, "/admin/routing/reroute")
    done = admin.post(
        "/admin/routing/reroute", data={"csrf_token": token, "why": "After the review"}
    )
    assert done.status_code == 200
    assert "Done: 1 of 2 routed reports changed." in done.text
    assert "<dt>Got a new owner</dt><dd>1</dd>" in done.text

    db_session.expire_all()
    assert catford.owner.slug == "met-town-centre-team"
    assert catford.rule_owner_id == catford.owner_partner_id  # the rules' choice, not a hand move
    assert [p.slug for p in catford.notified] == ["lewisham-community-safety"]
    assert "(area rule: in Catford town centre)" in catford.routing_reason
    assert deptford.owner.slug == "met-snt-deptford"
    moves = db_session.scalars(
        select(ReportEvent).where(ReportEvent.kind == "rerouted").order_by(ReportEvent.id)
    ).all()
    assert [(e.report_id, e.actor.email, e.public) for e in moves] == [
        (catford.id, "admin@lewisham.example", True)
    ]
    assert moves[0].note == catford.routing_reason
    assert (moves[0].data["why"], moves[0].data["from_owner"], moves[0].data["owner"]) == (
        "After the review",
        "met-snt-rushey-green",
        "met-town-centre-team",
    )
    assert "Every routed report already follows the current rules." in (
        admin.get("/admin/routing/reroute").text
    )
