"""Partner triage: account security, SLAs, response templates, email outbox, queue indexes

Revision ID: 0003
Revises: 0009
Create Date: 2026-11-24 09:11:38.990028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_preference",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column(
            "new_report_emails",
            sa.Enum(
                "immediate",
                "daily_digest",
                "off",
                name="new_report_emails",
                native_enum=False,
                length=32,
            ),
            server_default="immediate",
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_partner_preference_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partner_preference")),
    )
    op.create_table(
        "partner_sla",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("hours_to_acknowledge", sa.Integer(), nullable=False),
        sa.Column("hours_to_resolve", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "hours_to_acknowledge > 0 AND hours_to_resolve >= hours_to_acknowledge",
            name=op.f("ck_partner_sla_sla_hours"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_partner_sla_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_partner_sla_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_sla")),
        sa.UniqueConstraint("partner_id", "category_id", name="partner_sla_identity"),
    )
    op.create_table(
        "response_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_response_template_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_template")),
        sa.UniqueConstraint("partner_id", "title", name="response_template_title"),
    )
    op.create_index(
        op.f("ix_response_template_partner_id"), "response_template", ["partner_id"], unique=False
    )
    op.create_table(
        "user_security",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("sessions_valid_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_user_security_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_security")),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["report_event.id"], name=op.f("fk_email_outbox_event_id_report_event")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_email_outbox_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_email_outbox_report_id_report")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_email_outbox_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_email_outbox_key")),
    )
    op.create_index(op.f("ix_email_outbox_report_id"), "email_outbox", ["report_id"], unique=False)
    op.create_index(
        "ix_email_outbox_unsent",
        "email_outbox",
        ["created_at"],
        unique=False,
        postgresql_where="sent_at IS NULL",
    )
    op.create_index(
        "ix_report_open_due",
        "report",
        [
            sa.literal_column(
                "COALESCE(CASE WHEN (acknowledged_at IS NULL) THEN acknowledge_due_at "
                "ELSE NULL::timestamp with time zone END, resolve_due_at)"
            ),
            "id",
        ],
        unique=False,
        postgresql_where=sa.text(
            "status IN ('acknowledged', 'in_progress', 'needs_location', 'received', 'routed')"
        ),
    )
    op.create_index(
        "ix_report_owner_created",
        "report",
        ["owner_partner_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_report_ward_created",
        "report",
        ["ward_id", sa.literal_column("created_at DESC")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_report_ward_created", table_name="report")
    op.drop_index("ix_report_owner_created", table_name="report")
    op.drop_index(
        "ix_report_open_due",
        table_name="report",
        postgresql_where=sa.text(
            "status IN ('acknowledged', 'in_progress', 'needs_location', 'received', 'routed')"
        ),
    )
    op.drop_index(
        "ix_email_outbox_unsent", table_name="email_outbox", postgresql_where="sent_at IS NULL"
    )
    op.drop_index(op.f("ix_email_outbox_report_id"), table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_table("user_security")
    op.drop_index(op.f("ix_response_template_partner_id"), table_name="response_template")
    op.drop_table("response_template")
    op.drop_table("partner_sla")
    op.drop_table("partner_preference")
