"""Find the reports whose after-dark flag is unknown without reading the table

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 23:15:00.000000

Every hot-spot run first fills in ``after_dark`` where it is still unknown. At a million
reports, finding the few new ones read the whole table each time; a partial index holds only
them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_report_after_dark_unknown",
        "report",
        ["id"],
        postgresql_where=sa.text("after_dark IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_report_after_dark_unknown", table_name="report")
