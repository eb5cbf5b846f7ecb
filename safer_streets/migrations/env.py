"""Alembic environment: migrations run online against the configured database.

Autogenerate (``alembic check`` in ``make lint``, new revisions) compares the models with the
database through GeoAlchemy2's helpers, which know spatial types and the GiST indexes that
spatial columns get, and leaves out what PostGIS and other extensions own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import Connection

from safer_streets import models  # noqa: F401 - registers the tables on the metadata
from safer_streets.db import Base

config = context.config

# Schemas that PostGIS's optional extensions create (postgis_tiger_geocoder, postgis_topology)
# and the tiger loader fills: never ours, should schemas other than the default be compared.
EXTENSION_SCHEMAS = frozenset({"tiger", "tiger_data", "topology"})
# Named as well as found below, so that they are left out even where the lookup finds nothing.
EXTENSION_TABLES = frozenset({"spatial_ref_sys"})


def extension_tables(connection: Connection) -> frozenset[str]:
    """Tables the default schema's reflection sees that belong to an extension, not to us.

    That is every table visible on the search path (which is what reflection of the default
    schema lists) that an extension owns, such as PostGIS's ``spatial_ref_sys`` or the address
    standardiser's ``us_gaz``, or that lives in an extension's schema: installing
    postgis_topology puts ``topology`` on the database's search path, and with it its
    ``topology`` and ``layer`` tables.
    """
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE pg_table_is_visible(c.oid) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "AND (n.nspname = ANY(:schemas) OR EXISTS ("
            "SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
            "AND d.objid = c.oid AND d.deptype = 'e'))"
        ),
        {"schemas": sorted(EXTENSION_SCHEMAS)},
    )
    return EXTENSION_TABLES | {name for (name,) in rows}


IncludeName = Callable[[str | None, str, Mapping[str, str | None]], bool]


def include_name_except(foreign_tables: frozenset[str]) -> IncludeName:
    """An ``include_name`` hook that leaves out extension schemas and ``foreign_tables``."""

    def include_name(name: str | None, type_: str, parent_names: Mapping[str, str | None]) -> bool:
        if type_ == "schema":
            return name not in EXTENSION_SCHEMAS
        if type_ == "table":
            return name not in foreign_tables
        return True

    return include_name


def run_migrations_online() -> None:
    """Run migrations in one transaction."""
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    # Looked up on a connection of its own: a query on the migrations' connection would open a
    # transaction that Alembic then takes for the caller's and never commits.
    with engine.connect() as lookup:
        foreign_tables = extension_tables(lookup)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_name=include_name_except(foreign_tables),
            include_object=alembic_helpers.include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
