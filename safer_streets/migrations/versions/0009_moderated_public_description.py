"""Moderated public description

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:42:43.029087
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("report", sa.Column("public_description", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("report", "public_description")
