"""Response templates for one category and one status

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 22:20:00.000000

A partner keeps replies per category ("fly-tipping cleared") and per status ("resolved"); the
inspector offers a report the templates of its category and those for any category.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("response_template", sa.Column("category_id", sa.Integer(), nullable=True))
    op.add_column("response_template", sa.Column("status", sa.String(length=20), nullable=True))
    op.create_foreign_key(
        "fk_response_template_category_id_category",
        "response_template",
        "category",
        ["category_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        "fk_response_template_category_id_category", "response_template", type_="foreignkey"
    )
    op.drop_column("response_template", "status")
    op.drop_column("response_template", "category_id")
