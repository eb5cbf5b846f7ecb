"""Search the triage queue by words of a report's description

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 19:20:00.000000

A GIN index on the description's English text-search vector, so that the queue's search box
finds reports by their words without reading every description.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_report_description_search ON report "
        "USING gin (to_tsvector('english'::regconfig, description))"
    )


def downgrade() -> None:
    op.drop_index("ix_report_description_search", table_name="report")
