"""One rule for "the ward's Safer Neighbourhood Team", end to end: the seed, the worker, the
rules admin with its history, and the routing tester (page and command line)."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select, update

from safer_streets.cli import main
from safer_streets.models import Partner, ReportEvent, Role, RoutingRule, RoutingRuleChange
from safer_streets.routing.decide import WARD_TEAM
from safer_streets.routing.rules import WARD_TEAM_CHOICE
from tests.helpers import csrf_token
from tests.routing.test_admin_routing import signed_in

CATFORD = {"lat": 51.4452, "lon": -0.0207}  # Rushey Green
DEPTFORD = {"lat": 51.4800, "lon": -0.0270}  # Deptford
TEAM_RULES = [
    ("anti-social-behaviour", "notified"),
    ("drug-dealing", "owner"),
    ("feeling-unsafe", "notified"),
    ("harassment", "owner"),
    ("weapons", "owner"),
]


def _team_rules(db_session):
    return db_session.scalars(
        select(RoutingRule).where(RoutingRule.ward_team, RoutingRule.active)
    ).all()


def _routed_event(db_session, report):
    return db_session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id, ReportEvent.kind == "routed")
    ).one()


def test_the_seed_names_the_wards_team_once_per_category(db_session):
    rules = _team_rules(db_session)
    assert sorted((r.category.slug, r.role.value) for r in rules) == TEAM_RULES
    assert all(r.partner is None and r.ward is None for r in rules)
    per_ward = select(func.count()).select_from(RoutingRule).where(RoutingRule.ward_id.is_not(None))
    assert db_session.scalar(per_ward) == 0


def test_one_rule_sends_each_wards_report_to_that_wards_own_team(db_session, routed_report):
    catford = routed_report(db_session, **CATFORD)
    deptford = routed_report(db_session, **DEPTFORD)
    assert catford.owner.slug == "met-snt-rushey-green"
    assert deptford.owner.slug == "met-snt-deptford"
    assert catford.routing_reason.startswith(
        "Drug dealing in Rushey Green goes to Met Police Rushey Green Safer Neighbourhood Team, "
        "the ward's Safer Neighbourhood Team (ward rule)."
    )
    assert deptford.routing_reason.startswith(
        "Drug dealing in Deptford goes to Met Police Deptford Safer Neighbourhood Team, "
        "the ward's Safer Neighbourhood Team (ward rule)."
    )
    [rule] = [r for r in _team_rules(db_session) if r.category.slug == "drug-dealing"]
    for report, team in ((catford, "met-snt-rushey-green"), (deptford, "met-snt-deptford")):
        data = _routed_event(db_session, report).data
        assert data["rule_ids"][0] == rule.id
        assert data["rules"][0] == {
            "id": rule.id,
            "partner": team,
            "role": "owner",
            "scope": "ward rule",
            "conditions": [],
            "ward_team": True,
        }


def test_a_ward_without_a_team_falls_through_and_says_so(db_session, routed_report):
    db_session.execute(
        update(Partner).where(Partner.slug == "met-snt-deptford").values(ward_code=None)
    )
    report = routed_report(db_session, **DEPTFORD)
    assert report.owner.slug == "lewisham-community-safety"
    assert report.routing_reason.startswith(
        "Drug dealing in Deptford would go to the ward's Safer Neighbourhood Team (rule "
    )
    assert (
        "but Deptford has no Safer Neighbourhood Team, so it goes to Lewisham Council Community "
        "Safety for manual triage." in report.routing_reason
    )
    asb = routed_report(db_session, category="anti-social-behaviour", **DEPTFORD)
    assert asb.owner.slug == "lewisham-asb"
    # Whatever the time of day (after 22:00 the out-of-hours service is notified too).
    assert not [p.slug for p in asb.notified if p.ward_code]
    assert "but Deptford has no Safer Neighbourhood Team." in asb.routing_reason


@pytest.fixture
def admin(csrf_app, db_session):
    return signed_in(csrf_app, db_session, "admin@lewisham.example", Role.ADMIN)


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_an_admin_adds_a_ward_team_rule_and_its_history_names_the_team(admin, db_session):
    created = admin.post(
        "/admin/routing/new",
        data={
            "csrf_token": csrf_token(admin, "/admin/routing/new"),
            "category": "fly-tipping",
            "place": "borough",
            "partner": WARD_TEAM_CHOICE,
            "role": "notified",
            "why": "Ward teams want to know about fly-tipping hot spots",
        },
    )
    assert created.status_code == 303, created.text
    rule_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    rule = db_session.get(RoutingRule, rule_id)
    assert rule.ward_team and rule.partner is None
    [change] = db_session.scalars(
        select(RoutingRuleChange).where(RoutingRuleChange.rule_id == rule_id)
    ).all()
    assert (change.action.value, change.actor.email) == ("created", "admin@lewisham.example")
    assert change.after["partner"] == WARD_TEAM

    page = html.unescape(admin.get(f"/admin/routing/{rule_id}").text)
    assert "The ward's Safer Neighbourhood Team (notified)" in page
    assert f'<option value="{WARD_TEAM_CHOICE}" selected>' in page
    listed = html.unescape(
        admin.get("/admin/routing", query_string={"partner": WARD_TEAM_CHOICE}).text
    )
    assert "6 rules" in listed
    assert (
        "The ward's Safer Neighbourhood Team" in listed and "Any ward, with its own team" in listed
    )
    in_deptford = admin.get("/admin/routing", query_string={"place": "E05013719"}).text
    assert f'href="/admin/routing/{rule_id}"' in in_deptford, "a ward's rules include its team's"
    for elsewhere in ("catford-town-centre", "borough"):
        listed = admin.get("/admin/routing", query_string={"place": elsewhere}).text
        assert f'href="/admin/routing/{rule_id}"' not in listed

    again = admin.post(
        "/admin/routing/new",
        data={
            "csrf_token": csrf_token(admin, "/admin/routing/new"),
            "category": "fly-tipping",
            "place": "borough",
            "partner": WARD_TEAM_CHOICE,
            "role": "notified",
            "why": "Twice",
        },
    )
    assert again.status_code == 422 and f"the same rule already exists (rule {rule_id})" in (
        again.text
    )

    edited = admin.post(
        f"/admin/routing/{rule_id}",
        data={
            "csrf_token": csrf_token(admin, f"/admin/routing/{rule_id}"),
            "category": "fly-tipping",
            "place": "borough",
            "partner": "lewisham-environment",
            "role": "notified",
            "why": "The council team after all",
        },
    )
    assert edited.status_code == 303
    history = html.unescape(admin.get(f"/admin/routing/{rule_id}").text)
    assert f"{WARD_TEAM} → lewisham-environment" in history


def test_the_fallback_rule_cannot_name_the_wards_team(admin, db_session):
    fallback = db_session.scalars(
        select(RoutingRule).where(RoutingRule.category_id.is_(None), RoutingRule.active)
    ).one()
    page = f"/admin/routing/{fallback.id}"
    refused = admin.post(
        page,
        data={"csrf_token": csrf_token(admin, page), "partner": WARD_TEAM_CHOICE, "why": "No"},
    )
    assert refused.status_code == 422
    assert "the fallback rule needs one partner" in html.unescape(refused.text)


def test_the_tester_shows_the_team_the_rule_resolves_to(admin, app):
    page = html.unescape(
        admin.get("/admin/routing/try", query_string={"category": "weapons", **CATFORD}).text
    )
    assert "Met Police Rushey Green Safer Neighbourhood Team would own it" in page
    assert (
        "<td>Met Police Rushey Green Safer Neighbourhood Team, the ward's Safer Neighbourhood "
        "Team</td>" in page
    )
    result = app.test_cli_runner().invoke(
        main,
        ["routing", "try", "--lat", "51.4800", "--lon", "-0.0270", "--category", "weapons"],
    )
    assert result.exit_code == 0, result.output
    assert "Owner: Met Police Deptford Safer Neighbourhood Team" in result.output
    assert (
        ": Met Police Deptford Safer Neighbourhood Team, the ward's Safer Neighbourhood Team, "
        "owner, ward rule" in result.output
    )
