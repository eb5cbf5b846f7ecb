"""Residents' area alerts: subscriptions by ward, town centre or distance, and what each was sent

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:46:01.248360

``alert_subscription`` holds a resident's alert (unconfirmed until the link in its
confirmation email is followed; deleted on unsubscribe). ``alert_swept_report`` marks each
public report once matched against every subscription; ``alert_delivery`` holds the reports
one sweep matched to one subscription and the outbox email that carried them. Reports gain an
index on ``routed_at``: the sweep reads only those routed in its last minutes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table(
        "alert_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("ward", "area", "distance", name="alert_kind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("ward_id", sa.Integer(), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column(
            "point",
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
        sa.Column("radius_m", sa.Integer(), nullable=True),
        sa.Column(
            "reach",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("place_label", sa.String(length=200), nullable=False),
        sa.Column(
            "category_ids", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False
        ),
        sa.Column(
            "frequency",
            sa.Enum("immediate", "daily", name="alert_frequency", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(kind = 'ward' AND ward_id IS NOT NULL AND area_id IS NULL AND point IS NULL) OR (kind = 'area' AND area_id IS NOT NULL AND ward_id IS NULL AND point IS NULL) OR (kind = 'distance' AND point IS NOT NULL AND radius_m IS NOT NULL AND reach IS NOT NULL AND ward_id IS NULL AND area_id IS NULL)",
            name=op.f("ck_alert_subscription_alert_place"),
        ),
        sa.CheckConstraint(
            "radius_m IS NULL OR radius_m BETWEEN 100 AND 5000",
            name=op.f("ck_alert_subscription_alert_radius"),
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_alert_subscription_area_id_area")
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["ward.id"], name=op.f("fk_alert_subscription_ward_id_ward")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_subscription")),
    )
    op.create_geospatial_index(
        "idx_alert_subscription_reach",
        "alert_subscription",
        ["reach"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_alert_subscription_area",
        "alert_subscription",
        ["area_id"],
        unique=False,
        postgresql_where="area_id IS NOT NULL",
    )
    op.create_index(
        "ix_alert_subscription_ward",
        "alert_subscription",
        ["ward_id"],
        unique=False,
        postgresql_where="ward_id IS NOT NULL",
    )
    op.create_table(
        "alert_swept_report",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column(
            "swept_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_alert_swept_report_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_alert_swept_report")),
    )
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("report_ids", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column(
            "matched_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["email_outbox.id"],
            name=op.f("fk_alert_delivery_outbox_id_email_outbox"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["alert_subscription.id"],
            name=op.f("fk_alert_delivery_subscription_id_alert_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery")),
    )
    op.create_index(
        op.f("ix_alert_delivery_subscription_id"),
        "alert_delivery",
        ["subscription_id"],
        unique=False,
    )
    op.create_index(
        "ix_alert_delivery_unsent",
        "alert_delivery",
        ["subscription_id"],
        unique=False,
        postgresql_where="outbox_id IS NULL",
    )
    op.create_index("ix_report_routed_at", "report", ["routed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_routed_at", table_name="report")
    op.drop_index(
        "ix_alert_delivery_unsent",
        table_name="alert_delivery",
        postgresql_where="outbox_id IS NULL",
    )
    op.drop_index(op.f("ix_alert_delivery_subscription_id"), table_name="alert_delivery")
    op.drop_table("alert_delivery")
    op.drop_table("alert_swept_report")
    op.drop_index(
        "ix_alert_subscription_ward",
        table_name="alert_subscription",
        postgresql_where="ward_id IS NOT NULL",
    )
    op.drop_index(
        "ix_alert_subscription_area",
        table_name="alert_subscription",
        postgresql_where="area_id IS NOT NULL",
    )
    op.drop_geospatial_index(
        "idx_alert_subscription_reach",
        table_name="alert_subscription",
        postgresql_using="gist",
        column_name="reach",
    )
    op.drop_geospatial_table("alert_subscription")
