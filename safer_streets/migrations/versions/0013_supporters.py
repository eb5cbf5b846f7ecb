"""Supporters count as people: their reasons, when it happened to them, and an email

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 22:00:00.000000

Adding your voice may say why the place feels unsafe and when, so that the board counts the
supporter's reasons alongside the reporter's; and may leave an email for the report's public
updates, kept only while they are wanted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "report_support",
        sa.Column(
            "reasons",
            postgresql.ARRAY(sa.String(length=40)),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column(
        "report_support", sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("report_support", sa.Column("after_dark", sa.Boolean(), nullable=True))
    op.add_column("report_support", sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    op.drop_column("report_support", "email")
    op.drop_column("report_support", "after_dark")
    op.drop_column("report_support", "occurred_at")
    op.drop_column("report_support", "reasons")
