"""Wards, partners, categories, routing rules, users, reports and events

Revision ID: 0001
Revises:
Create Date: 2026-11-24 08:07:25.566022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("group", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("emergency_notice", sa.Boolean(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint("slug", name=op.f("uq_category_slug")),
    )
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("hours_to_acknowledge", sa.Integer(), nullable=True),
        sa.Column("hours_to_resolve", sa.Integer(), nullable=True),
        sa.Column("ward_code", sa.String(length=9), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("slug", name=op.f("uq_partner_slug")),
    )
    op.create_geospatial_table(
        "ward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ward")),
        sa.UniqueConstraint("code", "generation", name="code_generation"),
    )
    op.create_geospatial_index(
        "idx_ward_geom", "ward", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "staff",
                "partner-admin",
                "board",
                "admin",
                name="user_role",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_app_user_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("email", name=op.f("uq_app_user_email")),
    )
    op.create_geospatial_table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("location_text", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "needs_location",
                "routed",
                "acknowledged",
                "in_progress",
                "resolved",
                "not_actionable",
                "duplicate",
                "referred",
                "out_of_area",
                name="report_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("ward_id", sa.Integer(), nullable=True),
        sa.Column("owner_partner_id", sa.Integer(), nullable=True),
        sa.Column("routing_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "char_length(description) <= 4000", name=op.f("ck_report_description_length")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_report_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["owner_partner_id"], ["partner.id"], name=op.f("fk_report_owner_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(["ward_id"], ["ward.id"], name=op.f("fk_report_ward_id_ward")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_report_idempotency_key")),
        sa.UniqueConstraint("reference", name=op.f("uq_report_reference")),
    )
    op.create_geospatial_index(
        "idx_report_location",
        "report",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_report_owner_status", "report", ["owner_partner_id", "status"], unique=False
    )
    op.create_index("ix_report_status_created", "report", ["status", "created_at"], unique=False)
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("ward_id", sa.Integer(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("owner", "notified", name="rule_role", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_routing_rule_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_routing_rule_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["ward.id"], name=op.f("fk_routing_rule_ward_id_ward")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule")),
        sa.UniqueConstraint("category_id", "ward_id", "partner_id", "role", name="rule_identity"),
    )
    op.create_index(
        "ix_routing_rule_lookup", "routing_rule", ["category_id", "ward_id"], unique=False
    )
    op.create_table(
        "report_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_report_event_actor_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_report_event_report_id_report")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_event")),
    )
    op.create_index(op.f("ix_report_event_report_id"), "report_event", ["report_id"], unique=False)
    op.create_table(
        "report_notified_partner",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
            name=op.f("fk_report_notified_partner_partner_id_partner"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_report_notified_partner_report_id_report")
        ),
        sa.PrimaryKeyConstraint("report_id", "partner_id", name=op.f("pk_report_notified_partner")),
    )
    op.create_index(
        "ix_report_notified_partner_partner",
        "report_notified_partner",
        ["partner_id", "report_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("report_notified_partner")
    op.drop_index(op.f("ix_report_event_report_id"), table_name="report_event")
    op.drop_table("report_event")
    op.drop_index("ix_routing_rule_lookup", table_name="routing_rule")
    op.drop_table("routing_rule")
    op.drop_index("ix_report_status_created", table_name="report")
    op.drop_index("ix_report_owner_status", table_name="report")
    op.drop_geospatial_index(
        "idx_report_location", table_name="report", postgresql_using="gist", column_name="location"
    )
    op.drop_geospatial_table("report")
    op.drop_table("app_user")
    op.drop_geospatial_index(
        "idx_ward_geom", table_name="ward", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("ward")
    op.drop_table("partner")
    op.drop_table("category")
