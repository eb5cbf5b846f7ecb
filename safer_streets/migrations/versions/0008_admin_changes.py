"""One history for the admin console: partners, categories, named areas, service levels

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 21:40:00.000000

Who changed what, when and why, with the changed fields before and after. Rows outlive what
they describe (a removed area keeps its history), so nothing points at the changed row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "actor_id",
            sa.Integer(),
            sa.ForeignKey("app_user.id", name="fk_admin_change_actor_id_app_user"),
            nullable=False,
        ),
        sa.Column("entity", sa.String(32), nullable=False),  # models.AdminEntity
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("entity_key", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),  # models.AdminAction
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("before", JSONB(), nullable=True),
        sa.Column("after", JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_admin_change"),
    )
    op.create_index("ix_admin_change_entity_at", "admin_change", ["entity", "entity_key", "at"])


def downgrade() -> None:
    op.drop_index("ix_admin_change_entity_at", table_name="admin_change")
    op.drop_table("admin_change")
