"""Outbox rows carry when they may next be sent: failed sends back off in the row, not the queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 17:00:00.000000

``email_outbox.next_attempt_at`` is set after a failed send (exponential backoff, capped by
``SAFER_STREETS_EMAIL_RETRY_MAX_SECONDS``) and when the outbox sweep hands a row to a worker;
the sweep sends only rows that are due, so an SMTP outage never piles retry messages up in
Redis. Existing rows keep NULL (never tried, or tried before this column existed: due at once).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "email_outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_email_outbox_next_attempt",
        "email_outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_email_outbox_next_attempt", table_name="email_outbox")
    op.drop_column("email_outbox", "next_attempt_at")
