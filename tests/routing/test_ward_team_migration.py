"""Migration 0008 on a database holding one routing row per ward: the rows that say exactly
"each ward -> that ward's team" become one ward-team rule; any other set is left alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from safer_streets import migrate

# Three wards with a team, one without, and a ward of an older boundary generation.
WARDS = [("W1", "One", 2022, True), ("W2", "Two", 2022, True), ("W3", "Three", 2022, True)]
WARDS += [("W4", "Teamless", 2022, True), ("W0", "Old", 2014, False)]
TEAMS = {"W1": "snt-one", "W2": "snt-two", "W3": "snt-three", "W0": "snt-old"}
CATEGORIES = ("drug-dealing", "weapons", "harassment", "anti-social-behaviour")


@pytest.fixture
def old_database(settings) -> Iterator[str]:
    """A database of its own at 0006, before rules could name the ward's team."""
    test_url = make_url(settings.database_url)
    name = f"{test_url.database}_ward_team_migration"
    url = test_url.set(database=name).render_as_string(hide_password=False)
    migrate.recreate_database(url)
    migrate.upgrade(url, "0011")
    yield url
    migrate.drop_database(url)


def _insert(connection: Connection, table: str, **values: object) -> int:
    columns = ", ".join(f'"{c}"' for c in values)
    params = ", ".join(f":{c}" for c in values)
    return connection.scalar(
        text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"),
        values,
    )


def _old_rows(connection: Connection) -> dict[str, int]:
    square = "ST_Multi(ST_MakeEnvelope(0, 51, 0.01, 51.01, 4326))"
    wards = {}
    for code, name, generation, active in WARDS:
        wards[code] = connection.scalar(
            text(
                "INSERT INTO ward (code, name, slug, generation, active, geom) "
                f"VALUES (:code, :name, :slug, :generation, :active, {square}) RETURNING id"
            ),
            {
                "code": code,
                "name": name,
                "slug": name.lower(),
                "generation": generation,
                "active": active,
            },
        )
    partners = {"council": _insert(connection, "partner", slug="council", name="C", kind="x")}
    for code, slug in TEAMS.items():
        partners[slug] = _insert(
            connection, "partner", slug=slug, name=slug, kind="police", ward_code=code
        )
    categories = {
        slug: _insert(
            connection,
            "category",
            slug=slug,
            name=slug,
            group="g",
            description="",
            sensitive=False,
            emergency_notice=False,
            public=True,
            position=0,
        )
        for slug in CATEGORIES
    }

    def rule(category: str, ward: str | None, partner: str, role: str, **more: object) -> int:
        return _insert(
            connection,
            "routing_rule",
            category_id=categories[category],
            ward_id=wards[ward] if ward else None,
            partner_id=partners[partner],
            role=role,
            active=True,
            **more,
        )

    # Each active ward with a team, to its team (and the old ward's row, which routes nothing).
    for code in ("W1", "W2", "W3", "W0"):
        rule("drug-dealing", code, TEAMS[code], "owner")
        rule(
            "anti-social-behaviour",
            code,
            TEAMS[code],
            "notified",
            window_start=time(22),
            window_end=time(6),
        )
    # Not every ward: left alone.
    for code in ("W1", "W2"):
        rule("weapons", code, TEAMS[code], "owner")
    # Every ward, but one to another ward's team: left alone.
    for code, team in (("W1", "snt-one"), ("W2", "snt-two"), ("W3", "snt-one")):
        rule("harassment", code, team, "owner")
    rule("drug-dealing", None, "council", "notified")
    return categories


def _rules(connection: Connection) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in connection.execute(
            text(
                "SELECT c.slug, w.code, p.slug, r.role, r.window_start IS NOT NULL, r.active "
                "FROM routing_rule r JOIN category c ON c.id = r.category_id "
                "LEFT JOIN ward w ON w.id = r.ward_id LEFT JOIN partner p ON p.id = r.partner_id "
                "ORDER BY c.slug, w.code NULLS FIRST, p.slug"
            )
        )
    ]


def test_rows_covering_each_ward_with_its_team_become_one_rule(old_database):
    engine = create_engine(old_database)
    with engine.begin() as connection:
        _old_rows(connection)
        before = _rules(connection)
    migrate.upgrade(old_database, "0012")
    with engine.begin() as connection:
        team_rules = connection.execute(
            text(
                "SELECT c.slug, r.role, r.window_start, r.window_end, r.partner_id, r.active "
                "FROM routing_rule r JOIN category c ON c.id = r.category_id "
                "WHERE r.ward_team ORDER BY c.slug"
            )
        ).all()
        assert [tuple(r) for r in team_rules] == [
            ("anti-social-behaviour", "notified", time(22), time(6), None, True),
            ("drug-dealing", "owner", None, None, None, True),
        ]
        still_active = connection.execute(
            text(
                "SELECT c.slug, count(*) FROM routing_rule r "
                "JOIN category c ON c.id = r.category_id "
                "WHERE r.active AND NOT r.ward_team GROUP BY c.slug ORDER BY c.slug"
            )
        ).all()
        # The old ward's rows (W0) route nothing and stay; the council's row is no ward rule.
        assert [tuple(r) for r in still_active] == [
            ("anti-social-behaviour", 1),
            ("drug-dealing", 2),
            ("harassment", 3),
            ("weapons", 2),
        ]
        changes = connection.execute(
            text(
                "SELECT ch.action, ch.before ->> 'partner', ch.after ->> 'partner', "
                "ch.after ->> 'active' FROM routing_rule_change ch ORDER BY ch.id"
            )
        ).all()
        assert sorted({tuple(c) for c in changes}) == [
            ("created", None, "the ward's Safer Neighbourhood Team", "true"),
            ("deactivated", "snt-one", "snt-one", "false"),
            ("deactivated", "snt-three", "snt-three", "false"),
            ("deactivated", "snt-two", "snt-two", "false"),
        ]
        assert len(changes) == 2 + 6

    command.downgrade(migrate.alembic_config(old_database), "0011")
    with engine.begin() as connection:
        assert _rules(connection) == before, "back to one row per ward, as they were"
    engine.dispose()
