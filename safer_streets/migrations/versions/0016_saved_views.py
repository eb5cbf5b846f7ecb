"""Saved views of the triage queue

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 23:20:00.000000

Staff name the filters they use every day ("open drug dealing in my wards, due soonest") and
open them from the queue in one click.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.String(length=1000), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_saved_view_user_id_app_user"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_saved_view"),
        sa.UniqueConstraint("user_id", "name", name="saved_view_name"),
    )
    op.create_index("ix_saved_view_user_id", "saved_view", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_saved_view_user_id", table_name="saved_view")
    op.drop_table("saved_view")
