"""Abuse list

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-24 09:34:27.573711
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "abuse_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["app_user.id"], name=op.f("fk_abuse_entry_created_by_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abuse_entry")),
        sa.UniqueConstraint("value", name=op.f("uq_abuse_entry_value")),
    )


def downgrade() -> None:
    op.drop_table("abuse_entry")
