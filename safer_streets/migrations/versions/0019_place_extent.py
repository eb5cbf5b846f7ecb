"""Reports placed from a typed street or place keep its extent and how they were placed

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 12:40:00.000000

A report typed as "Catford Broadway" was stored at the gazetteer's one point for it, so many
such reports stacked up into a false hot spot. Now the report keeps the street's or area's
extent (shared rows of ``place_extent``) and how it was placed, and the board spreads it over
the extent's cells: hot-spot cell counts become fractional.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "place_extent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_place_extent"),
        sa.UniqueConstraint("key", name="uq_place_extent_key"),
    )
    op.add_column("report", sa.Column("placed_from", sa.String(16), nullable=True))
    op.add_column("report", sa.Column("place_extent_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_report_place_extent_id_place_extent",
        "report",
        "place_extent",
        ["place_extent_id"],
        ["id"],
    )
    # Reports placed before this change keep placed_from NULL: how is not known.
    op.alter_column(
        "hotspot_cell",
        "count",
        type_=sa.Float(),
        existing_type=sa.Integer(),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "hotspot_cell",
        "count",
        type_=sa.Integer(),
        existing_type=sa.Float(),
        existing_nullable=False,
        postgresql_using="round(count)::integer",
    )
    op.drop_constraint("fk_report_place_extent_id_place_extent", "report", type_="foreignkey")
    op.drop_column("report", "place_extent_id")
    op.drop_column("report", "placed_from")
    op.drop_table("place_extent")
