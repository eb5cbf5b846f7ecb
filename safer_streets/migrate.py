"""Schema migrations (Alembic), run from the CLI and from the test set-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, pool, text

MIGRATIONS = Path(__file__).parent / "migrations"
# The migrations were squashed into 0001 before the first deployment. A database migrated to
# the end of the old chain has exactly the schema 0001 creates (compared with pg_dump), so it
# is restamped rather than refused for a revision that no longer exists.
SQUASHED_HEADS = {"0010": "0001"}


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for this package's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    _restamp_squashed(database_url)
    command.upgrade(alembic_config(database_url), revision)


def _restamp_squashed(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.begin() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return
        for old, new in SQUASHED_HEADS.items():
            connection.execute(
                text("UPDATE alembic_version SET version_num = :new WHERE version_num = :old"),
                {"old": old, "new": new},
            )
