"""The migrations: one numbered line, down and up again, and databases from before the squash."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from safer_streets import migrate


@pytest.fixture
def scratch(settings) -> Iterator[str]:
    """An empty database of its own beside the test database, dropped afterwards."""
    test_url = make_url(settings.database_url)
    name = f"{test_url.database}_migrations"
    url = test_url.set(database=name).render_as_string(hide_password=False)
    migrate.recreate_database(url)
    yield url
    server = create_engine(test_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    server.dispose()


def _head() -> str:
    """The last migration's number: the revision a fully migrated database is at."""
    return f"{int(migrate.next_revision_id()) - 1:04d}"


def _version_and_tables(url: str) -> tuple[str | None, set[str]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        version = connection.scalar(text("SELECT version_num FROM alembic_version"))
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    return version, tables


def test_the_migrations_are_one_line_numbered_in_order():
    assert migrate.order_problems() == []


def test_no_migration_takes_a_squashed_heads_number():
    # A database stamped 0010 is restamped 0001: a new 0010 would never run on it.
    taken = {
        m.revision for m in ScriptDirectory.from_config(migrate.alembic_config("")).walk_revisions()
    }
    assert not taken & set(migrate.SQUASHED_HEADS)
    assert migrate.next_revision_id() not in migrate.SQUASHED_HEADS


def test_the_schema_goes_down_to_nothing_and_comes_back(scratch):
    migrate.upgrade(scratch)
    migrate.check(scratch)
    command.downgrade(migrate.alembic_config(scratch), "base")
    assert _version_and_tables(scratch)[1] == {"alembic_version", "spatial_ref_sys"}
    migrate.upgrade(scratch)
    migrate.check(scratch)
    version, tables = _version_and_tables(scratch)
    assert version == _head()
    assert {"report", "routing_rule", "routing_data_version", "processing_failure"} <= tables


def test_each_migration_goes_down_and_up_again(scratch):
    migrate.upgrade(scratch)
    config = migrate.alembic_config(scratch)
    for migration in ScriptDirectory.from_config(config).walk_revisions():
        if migration.down_revision is None:
            break
        command.downgrade(config, migration.down_revision)
        assert _version_and_tables(scratch)[0] == migration.down_revision
    assert "processing_failure" not in _version_and_tables(scratch)[1]
    migrate.upgrade(scratch)
    migrate.check(scratch)


def test_a_database_at_the_end_of_the_squashed_chain_is_restamped(scratch):
    # The squashed chain ended where 0001 does: that schema, stamped with the old last number.
    migrate.upgrade(scratch, "0001")
    engine = create_engine(scratch)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    engine.dispose()
    migrate.upgrade(scratch)
    version, tables = _version_and_tables(scratch)
    assert version == _head(), "restamped 0001, then migrated on from there"
    assert "processing_failure" in tables
    migrate.check(scratch)


def test_a_database_with_categories_gets_the_reasons_it_offered_and_they_move_routing(scratch):
    migrate.upgrade(scratch, "0016")
    engine = create_engine(scratch)
    with engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO category (slug, name, "group", description, sensitive,'
                " emergency_notice, public, position) VALUES"
                " ('feeling-unsafe', 'Feeling unsafe', 'Safety', '', false, false, true, 1),"
                " ('fly-tipping', 'Fly-tipping', 'Streets', '', false, false, true, 2)"
            )
        )
    migrate.upgrade(scratch)
    with engine.begin() as connection:
        rows = connection.execute(
            text(
                "SELECT category.slug, reason.key, reason.label, reason.retired FROM reason"
                " JOIN category ON category.id = reason.category_id ORDER BY reason.position"
            )
        ).all()
        version = connection.scalar(text("SELECT version FROM routing_data_version"))
        connection.execute(text("UPDATE reason SET label = 'Poorly lit' WHERE key = 'badly-lit'"))
        moved = connection.scalar(text("SELECT version FROM routing_data_version"))
    engine.dispose()
    assert len(rows) == 11
    assert rows[0] == ("feeling-unsafe", "badly-lit", "Badly lit", False)
    assert ("feeling-unsafe", "followed", "I was followed", False) in rows
    assert {slug for slug, *_ in rows} == {"feeling-unsafe"}
    assert moved > version, "a changed reason makes the worker reload its routing data"
    command.downgrade(migrate.alembic_config(scratch), "0016")
    assert "reason" not in _version_and_tables(scratch)[1]
