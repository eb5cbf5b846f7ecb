"""Reasons within a category as rows that admins edit

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 12:45:00.000000

StreetSafe's "what makes this place feel unsafe?" answers were a list in the code; now they are
rows, added, reworded and retired from the admin console. A database that already has the
categories gets the reasons the code offered until now (a fresh one gets them from the seed,
which runs after the categories exist). Changing a reason moves the routing data version, as
routing rules name reasons and show their labels.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The list as it stood in the code, copied rather than read so that this file never changes.
FEELING_UNSAFE_REASONS = (
    ("badly-lit", "Badly lit"),
    ("isolated", "Isolated or deserted"),
    ("no-cctv", "No CCTV"),
    ("blind-spots", "Blind spots or hidden corners"),
    ("restricted-visibility", "Restricted visibility (overgrown, high walls)"),
    ("rundown", "Rundown, neglected or vandalised"),
    ("drugs-or-alcohol", "Signs of drugs or alcohol use"),
    ("followed", "I was followed"),
    ("verbal-harassment-individual", "Verbal harassment by one person"),
    ("verbal-harassment-group", "Verbal harassment by a group"),
    ("other-harassment", "Other harassment"),
)


def upgrade() -> None:
    op.create_table(
        "reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("help", sa.Text(), server_default="", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retired", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name="fk_reason_category_id_category"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reason"),
        sa.UniqueConstraint("category_id", "key", name="reason_category_key"),
    )
    op.execute(
        "CREATE TRIGGER reason_bumps_routing_data_version "
        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON reason "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_routing_data_version()"
    )
    op.get_bind().execute(
        sa.text(
            "INSERT INTO reason (category_id, key, label, position) "
            "SELECT id, :key, :label, :position FROM category WHERE slug = 'feeling-unsafe'"
        ),
        [
            {"key": key, "label": label, "position": position}
            for position, (key, label) in enumerate(FEELING_UNSAFE_REASONS)
        ],
    )


def downgrade() -> None:
    op.drop_table("reason")
