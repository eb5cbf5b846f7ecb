"""Report fields for geocoding, triage and the resident flow

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:15:43.380435
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "report",
        sa.Column(
            "reasons", postgresql.ARRAY(sa.String(length=40)), server_default="{}", nullable=False
        ),
    )
    op.add_column("report", sa.Column("after_dark", sa.Boolean(), nullable=True))
    op.add_column("report", sa.Column("street", sa.String(length=200), nullable=True))
    op.add_column("report", sa.Column("street_distance_m", sa.Float(), nullable=True))
    op.add_column("report", sa.Column("postcode", sa.String(length=8), nullable=True))
    op.add_column(
        "report", sa.Column("supporter_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "report",
        sa.Column(
            "priority",
            sa.Enum(
                "low", "normal", "high", "urgent", name="priority", native_enum=False, length=32
            ),
            server_default="normal",
            nullable=False,
        ),
    )
    op.add_column("report", sa.Column("assigned_to_id", sa.Integer(), nullable=True))
    op.add_column("report", sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
    op.add_column(
        "report", sa.Column("acknowledge_due_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("report", sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("report", sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("report", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "report", sa.Column("version_id", sa.Integer(), server_default="1", nullable=False)
    )
    op.create_index("ix_report_created_at", "report", ["created_at"], unique=False)
    op.create_foreign_key(
        op.f("fk_report_duplicate_of_id_report"), "report", "report", ["duplicate_of_id"], ["id"]
    )
    op.create_foreign_key(
        op.f("fk_report_assigned_to_id_app_user"), "report", "app_user", ["assigned_to_id"], ["id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_report_assigned_to_id_app_user"), "report", type_="foreignkey")
    op.drop_constraint(op.f("fk_report_duplicate_of_id_report"), "report", type_="foreignkey")
    op.drop_index("ix_report_created_at", table_name="report")
    op.drop_column("report", "version_id")
    op.drop_column("report", "resolved_at")
    op.drop_column("report", "acknowledged_at")
    op.drop_column("report", "resolve_due_at")
    op.drop_column("report", "acknowledge_due_at")
    op.drop_column("report", "duplicate_of_id")
    op.drop_column("report", "assigned_to_id")
    op.drop_column("report", "priority")
    op.drop_column("report", "supporter_count")
    op.drop_column("report", "postcode")
    op.drop_column("report", "street_distance_m")
    op.drop_column("report", "street")
    op.drop_column("report", "after_dark")
    op.drop_column("report", "reasons")
