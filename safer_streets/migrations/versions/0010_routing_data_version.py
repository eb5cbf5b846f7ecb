"""Routing data version: bumped by triggers whenever what routing reads changes

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-24 12:05:00.000000

The worker keeps the rules, wards, areas and service levels in memory between batches and
reloads them when this number moves, however the change was made (admin pages, CSV imports,
the seed loader or SQL by hand).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROUTING_TABLES = ("routing_rule", "ward", "area", "partner", "partner_sla", "category")


def upgrade() -> None:
    op.create_table(
        "routing_data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_routing_data_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_data_version")),
    )
    op.execute("INSERT INTO routing_data_version (id, version) VALUES (1, 1)")
    op.execute(
        """
        CREATE FUNCTION bump_routing_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE routing_data_version SET version = version + 1 WHERE id = 1;
            RETURN NULL;
        END $$
        """
    )
    for table in ROUTING_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_bumps_routing_data_version "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_routing_data_version()"
        )


def downgrade() -> None:
    for table in ROUTING_TABLES:
        op.execute(f"DROP TRIGGER {table}_bumps_routing_data_version ON {table}")
    op.execute("DROP FUNCTION bump_routing_data_version()")
    op.drop_table("routing_data_version")
