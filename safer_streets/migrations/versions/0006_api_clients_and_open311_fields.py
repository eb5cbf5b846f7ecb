"""API clients (hashed keys) and the Open311 fields on reports and their events

Revision ID: 0006
Revises: 0002b
Create Date: 2026-11-24 08:30:11.461268
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0002b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["app_user.id"], name=op.f("fk_api_client_created_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_api_client_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_api_client_key_prefix")),
    )
    op.add_column("report", sa.Column("api_client_id", sa.Integer(), nullable=True))
    op.add_column("report", sa.Column("media_url", sa.String(length=2048), nullable=True))
    op.add_column("report", sa.Column("contact_name", sa.String(length=200), nullable=True))
    op.add_column("report", sa.Column("contact_phone", sa.String(length=40), nullable=True))
    op.add_column("report", sa.Column("open311_token", sa.String(length=40), nullable=True))
    op.create_index(op.f("ix_report_api_client_id"), "report", ["api_client_id"], unique=False)
    op.create_unique_constraint(op.f("uq_report_open311_token"), "report", ["open311_token"])
    op.create_foreign_key(
        op.f("fk_report_api_client_id_api_client"),
        "report",
        "api_client",
        ["api_client_id"],
        ["id"],
    )
    op.add_column("report_event", sa.Column("api_client_id", sa.Integer(), nullable=True))
    op.create_index("ix_report_event_at", "report_event", ["at"], unique=False)
    op.create_foreign_key(
        op.f("fk_report_event_api_client_id_api_client"),
        "report_event",
        "api_client",
        ["api_client_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_report_event_api_client_id_api_client"), "report_event", type_="foreignkey"
    )
    op.drop_index("ix_report_event_at", table_name="report_event")
    op.drop_column("report_event", "api_client_id")
    op.drop_constraint(op.f("fk_report_api_client_id_api_client"), "report", type_="foreignkey")
    op.drop_constraint(op.f("uq_report_open311_token"), "report", type_="unique")
    op.drop_index(op.f("ix_report_api_client_id"), table_name="report")
    op.drop_column("report", "open311_token")
    op.drop_column("report", "contact_phone")
    op.drop_column("report", "contact_name")
    op.drop_column("report", "media_url")
    op.drop_column("report", "api_client_id")
    op.drop_table("api_client")
