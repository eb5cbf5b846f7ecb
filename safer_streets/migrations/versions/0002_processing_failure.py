"""Reports whose routing keeps failing: the failure kept per report, and needs_attention open

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 16:30:00.000000

``processing_failure`` holds, for a report still waiting to be routed, how often routing it
failed and the last error; after ``SAFER_STREETS_PROCESSING_MAX_ATTEMPTS`` the report becomes
``needs_attention`` (a new status value, which needs no migration of its own) until an admin
retries it. ``needs_attention`` is an open status, so the partial index on open reports'
deadlines is made again with it in its condition (Alembic does not compare such conditions).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEXT_DUE = sa.text(
    "COALESCE(CASE WHEN acknowledged_at IS NULL THEN acknowledge_due_at END, resolve_due_at)"
)
OPEN_BEFORE = "('acknowledged', 'in_progress', 'needs_location', 'received', 'routed')"
OPEN_AFTER = (
    "('acknowledged', 'in_progress', 'needs_attention', 'needs_location', 'received', 'routed')"
)


def _open_due_index(statuses: str) -> None:
    op.drop_index("ix_report_open_due", table_name="report")
    op.create_index(
        "ix_report_open_due",
        "report",
        [NEXT_DUE, "id"],
        postgresql_where=sa.text(f"status IN {statuses}"),
    )


def upgrade() -> None:
    op.create_table(
        "processing_failure",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_kind", sa.String(200), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name="fk_processing_failure_report_id_report",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name="pk_processing_failure"),
    )
    _open_due_index(OPEN_AFTER)


def downgrade() -> None:
    # Reports set aside go back to waiting: the statuses before this revision knew no other.
    op.execute("UPDATE report SET status = 'received' WHERE status = 'needs_attention'")
    _open_due_index(OPEN_BEFORE)
    op.drop_table("processing_failure")
