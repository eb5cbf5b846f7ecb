"""The disclosure policy as data, photo approval, board case detail and the access log

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:15:00.000000

Categories carry what the public may see of their reports; until the seed (or an admin) sets
it, a category's reports are not public at all. Photos become public only once a partner
approves them, so the old "hidden" marks are dropped and every existing photo starts
unapproved. Board accounts gain the case-detail permission (off), and every view of a
sensitive report's detail is recorded in ``report_access``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for name, column_type, default in (
        ("disclosure_listed", sa.Boolean(), "false"),
        ("disclosure_location", sa.String(16), "none"),
        ("disclosure_time", sa.String(16), "month"),
        ("disclosure_description", sa.String(16), "none"),
    ):
        op.add_column(
            "category", sa.Column(name, column_type, server_default=default, nullable=False)
        )
    op.add_column(
        "app_user",
        sa.Column("sees_case_detail", sa.Boolean(), server_default="false", nullable=False),
    )
    op.drop_constraint("fk_report_photo_hidden_by_id_app_user", "report_photo", type_="foreignkey")
    op.drop_column("report_photo", "hidden_by_id")
    op.drop_column("report_photo", "hidden_at")
    op.add_column(
        "report_photo", sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("report_photo", sa.Column("approved_by_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_report_photo_approved_by_id_app_user",
        "report_photo",
        "app_user",
        ["approved_by_id"],
        ["id"],
    )
    op.create_table(
        "report_access",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("report.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("api_client_id", sa.Integer(), sa.ForeignKey("api_client.id"), nullable=True),
        sa.Column("surface", sa.String(60), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_report_access_report", "report_access", ["report_id", "at"])
    op.create_index("ix_report_access_user_id", "report_access", ["user_id"])


def downgrade() -> None:
    op.drop_table("report_access")
    op.drop_constraint(
        "fk_report_photo_approved_by_id_app_user", "report_photo", type_="foreignkey"
    )
    op.drop_column("report_photo", "approved_by_id")
    op.drop_column("report_photo", "approved_at")
    op.add_column("report_photo", sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("report_photo", sa.Column("hidden_by_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_report_photo_hidden_by_id_app_user",
        "report_photo",
        "app_user",
        ["hidden_by_id"],
        ["id"],
    )
    op.drop_column("app_user", "sees_case_detail")
    for name in (
        "disclosure_description",
        "disclosure_time",
        "disclosure_location",
        "disclosure_listed",
    ):
        op.drop_column("category", name)
