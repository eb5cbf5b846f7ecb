"""Partners' send methods: email, or Open311 to their own case system

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 12:50:00.000000

A partner whose case system speaks Open311 GeoReport v2 has its routed reports posted there,
and the updates made there read back; each post is recorded with its attempts and errors.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_send_method",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column(
            "method",
            sa.Enum("email", "open311", name="send_method", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("endpoint", sa.String(length=2048), nullable=True),
        sa.Column("api_key", sa.String(length=200), nullable=True),
        sa.Column("jurisdiction_id", sa.String(length=200), nullable=True),
        sa.Column(
            "service_codes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("open311_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("api_client_id", sa.Integer(), nullable=True),
        sa.Column("updates_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updates_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "method <> 'open311' OR (endpoint IS NOT NULL AND api_key IS NOT NULL)",
            name="open311_endpoint",
        ),
        sa.ForeignKeyConstraint(
            ["api_client_id"],
            ["api_client.id"],
            name="fk_partner_send_method_api_client_id_api_client",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name="fk_partner_send_method_partner_id_partner"
        ),
        sa.PrimaryKeyConstraint("partner_id", name="pk_partner_send_method"),
    )
    op.create_table(
        "open311_send",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("service_request_id", sa.String(length=200), nullable=True),
        sa.Column("token", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_update_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name="fk_open311_send_partner_id_partner"
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name="fk_open311_send_report_id_report",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_open311_send"),
        sa.UniqueConstraint("report_id", "partner_id", name="open311_send_once"),
    )
    op.create_index(
        "ix_open311_send_unsent",
        "open311_send",
        ["next_attempt_at"],
        postgresql_where="sent_at IS NULL",
    )
    op.create_index("ix_open311_send_partner", "open311_send", ["partner_id", "service_request_id"])


def downgrade() -> None:
    op.drop_index("ix_open311_send_partner", table_name="open311_send")
    op.drop_index("ix_open311_send_unsent", table_name="open311_send")
    op.drop_table("open311_send")
    op.drop_table("partner_send_method")
