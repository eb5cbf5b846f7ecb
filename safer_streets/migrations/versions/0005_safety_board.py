"""Safety board: hotspot runs, recorded crime, published summaries

Revision ID: 0005
Revises: 0007
Create Date: 2026-11-24 08:37:23.116262
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table(
        "police_crime",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crime_key", sa.String(length=80), nullable=False),
        sa.Column("crime_id", sa.String(length=64), nullable=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.Column("falls_within", sa.String(length=100), nullable=False),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("location_text", sa.String(length=200), nullable=False),
        sa.Column("lsoa_code", sa.String(length=9), nullable=False),
        sa.Column("lsoa_name", sa.String(length=100), nullable=False),
        sa.Column("crime_type", sa.String(length=80), nullable=False),
        sa.Column("last_outcome", sa.String(length=200), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("ward_id", sa.Integer(), nullable=True),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["ward.id"], name=op.f("fk_police_crime_ward_id_ward")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_police_crime")),
        sa.UniqueConstraint("crime_key", name=op.f("uq_police_crime_crime_key")),
    )
    op.create_geospatial_index(
        "idx_police_crime_location",
        "police_crime",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_police_crime_month_type", "police_crime", ["month", "crime_type"], unique=False
    )
    op.create_index(op.f("ix_police_crime_ward_id"), "police_crime", ["ward_id"], unique=False)
    op.create_table(
        "hotspot_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="run_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("parameters_key", sa.String(length=64), nullable=False),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["app_user.id"],
            name=op.f("fk_hotspot_run_requested_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotspot_run")),
    )
    op.create_index(
        "ix_hotspot_run_lookup",
        "hotspot_run",
        ["parameters_key", "status", "computed_at"],
        unique=False,
    )
    op.create_table(
        "published_summary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["app_user.id"],
            name=op.f("fk_published_summary_published_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_summary")),
    )
    op.create_geospatial_table(
        "hotspot_cell",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("iy", sa.Integer(), nullable=False),
        sa.Column("ix", sa.Integer(), nullable=False),
        sa.Column(
            "cell",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("z", sa.Float(), nullable=False),
        sa.Column("p", sa.Float(), nullable=False),
        sa.Column("p_sim", sa.Float(), nullable=True),
        sa.Column("q", sa.Float(), nullable=False),
        sa.Column("gi_bin", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("density", sa.Float(), nullable=False),
        sa.Column("emerging", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["hotspot_run.id"],
            name=op.f("fk_hotspot_cell_run_id_hotspot_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "iy", "ix", name=op.f("pk_hotspot_cell")),
    )


def downgrade() -> None:
    op.drop_geospatial_table("hotspot_cell")
    op.drop_table("published_summary")
    op.drop_index("ix_hotspot_run_lookup", table_name="hotspot_run")
    op.drop_table("hotspot_run")
    op.drop_index(op.f("ix_police_crime_ward_id"), table_name="police_crime")
    op.drop_index("ix_police_crime_month_type", table_name="police_crime")
    op.drop_geospatial_index(
        "idx_police_crime_location",
        table_name="police_crime",
        postgresql_using="gist",
        column_name="location",
    )
    op.drop_geospatial_table("police_crime")
