"""Statistics on when a report's problem happened, for the board's counts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 22:20:00.000000

The board selects reports by ``coalesce(occurred_at, created_at)``. Without statistics on that
expression PostgreSQL guesses that a period holds a fraction of a per cent of the reports, and
at a million reports it sorts them on disk to group them instead of hashing them in memory.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE STATISTICS IF NOT EXISTS st_report_event_time "
        "ON (coalesce(occurred_at, created_at)) FROM report"
    )
    op.execute("ANALYZE report")


def downgrade() -> None:
    op.execute("DROP STATISTICS IF EXISTS st_report_event_time")
