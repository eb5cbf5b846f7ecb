"""Partners publish "you said, we did" actions, each with the reports that prompted it

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-03 21:30:00.000000

``partner_action`` holds what a partner did in a ward or a named area (title, words, the date
done), who published, changed and withdrew it, and when; ``partner_action_report`` links it to
the reports that prompted it. Residents' area alerts carry new actions too: an action is
matched to subscriptions once (``swept_at``), and ``alert_delivery`` gains the actions matched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("ward_id", sa.Integer(), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("swept_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(ward_id IS NULL) <> (area_id IS NULL)", name="action_place"),
        sa.CheckConstraint("char_length(title) BETWEEN 1 AND 120", name="action_title_length"),
        sa.CheckConstraint("char_length(body) BETWEEN 1 AND 2000", name="action_body_length"),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"]),
        sa.ForeignKeyConstraint(["ward_id"], ["ward.id"]),
        sa.ForeignKeyConstraint(["area_id"], ["area.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["updated_by_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["withdrawn_by_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_partner_action_ward", "partner_action", ["ward_id", sa.text("done_on DESC")]
    )
    op.create_index(
        "ix_partner_action_area", "partner_action", ["area_id", sa.text("done_on DESC")]
    )
    op.create_index(
        "ix_partner_action_partner", "partner_action", ["partner_id", sa.text("done_on DESC")]
    )
    op.create_table(
        "partner_action_report",
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["partner_action.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("action_id", "report_id"),
    )
    op.create_index("ix_partner_action_report_report", "partner_action_report", ["report_id"])
    op.add_column(
        "alert_delivery",
        sa.Column(
            "action_ids", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("alert_delivery", "action_ids")
    op.drop_index("ix_partner_action_report_report", table_name="partner_action_report")
    op.drop_table("partner_action_report")
    op.drop_index("ix_partner_action_partner", table_name="partner_action")
    op.drop_index("ix_partner_action_area", table_name="partner_action")
    op.drop_index("ix_partner_action_ward", table_name="partner_action")
    op.drop_table("partner_action")
