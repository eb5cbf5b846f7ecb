"""Routing rule conditions (area, time of day, reason), rule history, the rules' owner

Revision ID: 0004
Revises: 0005
Create Date: 2026-11-24 08:27:31.164359
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RULE_IDENTITY = (
    "category_id",
    "ward_id",
    "area_id",
    "window_start",
    "window_end",
    "reason",
    "partner_id",
    "role",
)


def upgrade() -> None:
    op.create_table(
        "routing_rule_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "created",
                "edited",
                "deactivated",
                "reactivated",
                name="rule_change",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_routing_rule_change_actor_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["routing_rule.id"],
            name=op.f("fk_routing_rule_change_rule_id_routing_rule"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule_change")),
    )
    op.create_index(
        "ix_routing_rule_change_rule_at", "routing_rule_change", ["rule_id", "at"], unique=False
    )
    op.add_column("routing_rule", sa.Column("area_id", sa.Integer(), nullable=True))
    op.add_column("routing_rule", sa.Column("window_start", sa.Time(), nullable=True))
    op.add_column("routing_rule", sa.Column("window_end", sa.Time(), nullable=True))
    op.add_column("routing_rule", sa.Column("reason", sa.String(length=40), nullable=True))
    op.create_foreign_key(
        op.f("fk_routing_rule_area_id_area"), "routing_rule", "area", ["area_id"], ["id"]
    )
    op.drop_constraint("rule_identity", "routing_rule", type_="unique")
    op.create_unique_constraint(
        "rule_identity", "routing_rule", list(RULE_IDENTITY), postgresql_nulls_not_distinct=True
    )
    op.create_check_constraint(
        op.f("ck_routing_rule_one_place"), "routing_rule", "ward_id IS NULL OR area_id IS NULL"
    )
    op.add_column("report", sa.Column("rule_owner_id", sa.Integer(), nullable=True))
    # Until now only the rules chose owners: every routed report's owner is the rules' choice.
    op.execute(
        "UPDATE report SET rule_owner_id = owner_partner_id "
        "WHERE owner_partner_id IS NOT NULL AND status NOT IN ('received', 'needs_location')"
    )
    op.create_check_constraint(
        op.f("ck_routing_rule_time_window"),
        "routing_rule",
        "(window_start IS NULL) = (window_end IS NULL) "
        "AND (window_start IS NULL OR window_start <> window_end)",
    )


def downgrade() -> None:
    op.drop_column("report", "rule_owner_id")
    op.drop_constraint(op.f("ck_routing_rule_time_window"), "routing_rule", type_="check")
    op.drop_constraint(op.f("ck_routing_rule_one_place"), "routing_rule", type_="check")
    op.drop_constraint("rule_identity", "routing_rule", type_="unique")
    # Rules that differ only in their new conditions cannot survive the old identity.
    op.execute(
        "DELETE FROM routing_rule_change WHERE rule_id IN (SELECT id FROM routing_rule "
        "WHERE area_id IS NOT NULL OR window_start IS NOT NULL OR reason IS NOT NULL)"
    )
    op.execute(
        "DELETE FROM routing_rule "
        "WHERE area_id IS NOT NULL OR window_start IS NOT NULL OR reason IS NOT NULL"
    )
    op.create_unique_constraint(
        "rule_identity", "routing_rule", ["category_id", "ward_id", "partner_id", "role"]
    )
    op.drop_constraint(op.f("fk_routing_rule_area_id_area"), "routing_rule", type_="foreignkey")
    op.drop_column("routing_rule", "reason")
    op.drop_column("routing_rule", "window_end")
    op.drop_column("routing_rule", "window_start")
    op.drop_column("routing_rule", "area_id")
    op.drop_index("ix_routing_rule_change_rule_at", table_name="routing_rule_change")
    op.drop_table("routing_rule_change")
