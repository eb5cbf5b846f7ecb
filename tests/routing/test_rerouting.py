"""Re-routing stored reports after a rule change: set-based, recorded, the worker's answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import Report, ReportEvent, ReportStatus, Role, RoutingRule, User
from safer_streets.routing import processing, rules
from safer_streets.routing.rerouting import reroute_open_reports

CATFORD_BROADWAY = (-0.0207, 51.4452)
DEPTFORD_HIGH_STREET = (-0.0257, 51.4780)
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def admin(db_session):
    user = User(email="admin@example.org", password_hash="x", role=Role.ADMIN)
    db_session.add(user)
    db_session.flush()
    return user


def routed_report(db_session, wards, places, category, point, **extra):
    submission = parse_submission(
        {
            "category": category,
            "lon": point[0],
            "lat": point[1],
            "description": "test",
            "occurred_at": NOON.isoformat(),
            **extra,
        }
    )
    report, _ = submit_report(db_session, submission, places=places)
    processing.process_reports(db_session, [report.id], wards, places)
    db_session.refresh(report)
    return report


def town_centre_team_owns_drug_dealing_in_catford(db_session, admin):
    return rules.create_rule(
        db_session,
        admin,
        {
            "category": "drug-dealing",
            "place": "area",
            "area": "catford-town-centre",
            "partner": "met-town-centre-team",
            "role": "owner",
            "why": "Town-centre team takes over dealing in Catford (partnership meeting)",
        },
    )


def test_a_rule_change_moves_only_the_reports_it_concerns_and_records_why(
    db_session, wards, places, admin
):
    catford = routed_report(db_session, wards, places, "drug-dealing", CATFORD_BROADWAY)
    deptford = routed_report(db_session, wards, places, "drug-dealing", DEPTFORD_HIGH_STREET)
    litter = routed_report(db_session, wards, places, "fly-tipping", CATFORD_BROADWAY)
    worked_on = routed_report(db_session, wards, places, "drug-dealing", CATFORD_BROADWAY)
    worked_on.status = ReportStatus.ACKNOWLEDGED
    db_session.flush()
    assert catford.owner.slug == "met-snt-rushey-green"

    town_centre_team_owns_drug_dealing_in_catford(db_session, admin)
    preview = reroute_open_reports(db_session, admin, dry_run=True)
    assert (preview.considered, preview.changed, preview.owner_changed) == (3, 1, 1)
    assert preview.left_being_worked_on == 1
    assert [(m.category, m.from_owner, m.to_owner, m.reports) for m in preview.moves] == [
        ("drug-dealing", "met-snt-rushey-green", "met-town-centre-team", 1)
    ]
    db_session.refresh(catford)
    assert catford.owner.slug == "met-snt-rushey-green"

    summary = reroute_open_reports(db_session, admin, why="New town-centre arrangements")
    assert summary.changed == 1
    for report in (catford, deptford, litter, worked_on):
        db_session.refresh(report)
    assert catford.owner.slug == "met-town-centre-team"
    assert [p.slug for p in catford.notified] == ["lewisham-community-safety"]
    assert "(area rule: in Catford town centre)" in catford.routing_reason
    event = db_session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == catford.id).order_by(ReportEvent.id)
    ).all()[-1]
    assert event.kind == "rerouted"
    assert event.actor_id == admin.id
    assert event.note == catford.routing_reason
    assert event.data["why"] == "New town-centre arrangements"
    assert event.data["from_owner"] == "met-snt-rushey-green"
    assert event.data["owner"] == "met-town-centre-team"
    assert deptford.owner.slug == "met-snt-deptford"
    assert litter.owner.slug == "lewisham-environment"
    assert worked_on.owner.slug == "met-snt-rushey-green"

    again = reroute_open_reports(db_session, admin)
    assert again.changed == 0


CASES = [
    ("drug-dealing", CATFORD_BROADWAY, {}),
    ("anti-social-behaviour", CATFORD_BROADWAY, {"occurred_at": "2026-03-02T23:30:00+00:00"}),
    ("anti-social-behaviour", DEPTFORD_HIGH_STREET, {"occurred_at": "2026-07-02T05:30:00+01:00"}),
    ("anti-social-behaviour", DEPTFORD_HIGH_STREET, {"occurred_at": "2026-07-02T06:00:00+01:00"}),
    ("feeling-unsafe", CATFORD_BROADWAY, {"reasons": ["badly-lit", "isolated"]}),
    ("feeling-unsafe", DEPTFORD_HIGH_STREET, {"reasons": ["isolated"]}),
    ("harassment", DEPTFORD_HIGH_STREET, {}),
    ("public-transport", CATFORD_BROADWAY, {}),
]


def test_re_routing_gives_every_report_exactly_what_the_worker_would(
    db_session, wards, places, admin
):
    stored = [routed_report(db_session, wards, places, c, p, **x) for c, p, x in CASES]
    # Knock every stored routing out of date, then let re-routing repair it in bulk.
    for report in stored:
        report.owner_partner_id = report.rule_owner_id = stored[0].owner_partner_id
        report.routing_reason = "stale"
        report.notified = []
    db_session.flush()
    summary = reroute_open_reports(db_session, None)
    assert summary.changed == len(CASES)
    fresh = [routed_report(db_session, wards, places, c, p, **x) for c, p, x in CASES]
    for bulk, worker in zip(stored, fresh, strict=True):
        db_session.refresh(bulk)
        assert bulk.owner_partner_id == worker.owner_partner_id
        assert [p.slug for p in bulk.notified] == [p.slug for p in worker.notified]
        assert bulk.routing_reason == worker.routing_reason


def test_only_admins_re_route(db_session):
    staff = User(email="staff@example.org", password_hash="x", role=Role.STAFF)
    with pytest.raises(Exception, match="only an admin"):
        reroute_open_reports(db_session, staff, dry_run=True)


def test_a_deactivated_rule_stops_notifying_on_re_routing(db_session, wards, places, admin):
    report = routed_report(db_session, wards, places, "harassment", CATFORD_BROADWAY)
    assert "met-town-centre-team" in [p.slug for p in report.notified]
    rule = db_session.scalars(
        select(RoutingRule)
        .join(RoutingRule.partner)
        .join(RoutingRule.category)
        .join(RoutingRule.area)
        .where(
            RoutingRule.partner.has(slug="met-town-centre-team"),
            RoutingRule.category.has(slug="harassment"),
            RoutingRule.area.has(slug="catford-town-centre"),
        )
    ).one()
    rules.set_active(db_session, admin, rule.id, active=False, why="Team disbanded")
    reroute_open_reports(db_session, admin)
    db_session.refresh(report)
    assert [p.slug for p in report.notified] == ["lewisham-community-safety"]
    assert db_session.get(Report, report.id).status is ReportStatus.ROUTED


def test_a_report_a_partner_moved_by_hand_is_left_alone(db_session, wards, places, admin):
    moved = routed_report(db_session, wards, places, "drug-dealing", CATFORD_BROADWAY)
    untouched = routed_report(db_session, wards, places, "drug-dealing", CATFORD_BROADWAY)
    # What re-routing by a partner does: another owner, with the partner's own reason.
    moved.owner_partner_id = untouched.notified[0].id
    moved.routing_reason = "Moved by the SNT: this is a council matter"
    db_session.flush()
    town_centre_team_owns_drug_dealing_in_catford(db_session, admin)
    summary = reroute_open_reports(db_session, admin)
    assert summary.moved_by_hand == 1
    db_session.refresh(moved)
    db_session.refresh(untouched)
    assert moved.routing_reason == "Moved by the SNT: this is a council matter"
    assert untouched.owner.slug == "met-town-centre-team"
