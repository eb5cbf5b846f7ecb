"""Alembic environment: migrations run online against the configured database."""

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from safer_streets import models  # noqa: F401 - registers the tables on the metadata
from safer_streets.db import Base

config = context.config


def run_migrations_online() -> None:
    """Run migrations in one transaction."""
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=alembic_helpers.include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            # PostGIS's own tables are not ours to manage.
            include_name=lambda name, type_, parent: (
                type_ != "table" or name not in {"spatial_ref_sys"}
            ),
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
