"""Report photos (re-encoded, no metadata) and support (+1) on open reports

Revision ID: 0007
Revises: 0002b
Create Date: 2026-11-24 08:25:31.401196
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/webp')",
            name=op.f("ck_report_photo_photo_content_type"),
        ),
        sa.ForeignKeyConstraint(
            ["hidden_by_id"], ["app_user.id"], name=op.f("fk_report_photo_hidden_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_report_photo_report_id_report")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_photo")),
        sa.UniqueConstraint("report_id", name=op.f("uq_report_photo_report_id")),
    )
    op.create_table(
        "report_support",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_report_support_report_id_report")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_support")),
        sa.UniqueConstraint("report_id", "key_hash", name="support_once"),
    )
    op.create_index(
        op.f("ix_report_support_report_id"), "report_support", ["report_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_report_support_report_id"), table_name="report_support")
    op.drop_table("report_support")
    op.drop_table("report_photo")
