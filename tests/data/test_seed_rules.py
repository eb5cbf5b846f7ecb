"""The seeded routing rules: history from the start, and admins' edits survive re-seeding."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from safer_streets.data import seed
from safer_streets.models import (
    Category,
    Partner,
    Role,
    RoutingRule,
    RoutingRuleChange,
    RuleRole,
    User,
    Ward,
)
from safer_streets.routing import rules


def test_every_seeded_rule_has_its_creation_in_the_history(db_session):
    rule_count = db_session.scalar(select(func.count()).select_from(RoutingRule))
    created = db_session.scalars(
        select(RoutingRuleChange).where(RoutingRuleChange.action == "created")
    ).all()
    assert len(created) == rule_count
    assert {c.why for c in created} == {seed.SEED_WHY}
    assert all(c.actor_id is None and c.before is None for c in created)


def test_the_town_centre_area_rules_are_seeded(db_session):
    seeded = db_session.scalars(
        select(RoutingRule).where(RoutingRule.area_id.is_not(None), RoutingRule.active)
    ).all()
    assert sorted((r.category.slug, r.area.slug, r.partner.slug, r.role.value) for r in seeded) == [
        (category, area, "met-town-centre-team", "notified")
        for category in (
            "anti-social-behaviour",
            "drug-dealing",
            "feeling-unsafe",
            "harassment",
        )
        for area in ("catford-town-centre", "lewisham-town-centre")
    ]


def test_seeding_again_changes_nothing_and_never_undoes_an_admins_change(db_session):
    admin = User(email="a@example.org", password_hash="x", role=Role.ADMIN)
    db_session.add(admin)
    db_session.flush()
    tfl = db_session.scalars(select(RoutingRule).where(RoutingRule.partner.has(slug="tfl"))).one()
    rules.edit_rule(
        db_session,
        admin,
        tfl.id,
        {**rules.form_from_rule(tfl), "partner": "lewisham-highways", "why": "Test"},
    )
    lighting = db_session.scalars(
        select(RoutingRule).where(RoutingRule.reason == "badly-lit")
    ).one()
    rules.set_active(db_session, admin, lighting.id, active=False, why="Test")
    before = db_session.scalar(select(func.count()).select_from(RoutingRule))

    seed.seed(db_session)

    assert db_session.scalar(select(func.count()).select_from(RoutingRule)) == before
    assert not db_session.scalars(
        select(RoutingRule).where(RoutingRule.partner.has(slug="tfl"))
    ).all()
    assert db_session.get(RoutingRule, lighting.id).active is False


def _forget(db_session, rule: RoutingRule) -> None:
    db_session.execute(delete(RoutingRuleChange).where(RoutingRuleChange.rule_id == rule.id))
    db_session.delete(rule)
    db_session.flush()


def _weapons_team_rule(db_session) -> RoutingRule | None:
    return db_session.scalars(
        select(RoutingRule).where(RoutingRule.ward_team, RoutingRule.category.has(slug="weapons"))
    ).one_or_none()


def test_a_ward_team_rule_is_seeded_unless_per_ward_rows_for_the_teams_stand_instead(db_session):
    _forget(db_session, _weapons_team_rule(db_session))
    seed.seed(db_session)
    assert _weapons_team_rule(db_session) is not None, "seeded again into a table without it"

    # A table the migration could not collapse: an admin had changed some of the ward rows.
    _forget(db_session, _weapons_team_rule(db_session))
    weapons = db_session.scalars(select(Category).where(Category.slug == "weapons")).one()
    for ward in db_session.scalars(select(Ward).where(Ward.active).limit(2)):
        team = db_session.scalars(select(Partner).where(Partner.ward_code == ward.code)).one()
        db_session.add(RoutingRule(category=weapons, ward=ward, partner=team, role=RuleRole.OWNER))
    db_session.flush()
    seed.seed(db_session)
    assert _weapons_team_rule(db_session) is None
