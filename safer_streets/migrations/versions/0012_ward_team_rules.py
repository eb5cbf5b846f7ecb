"""A routing rule may name the ward's Safer Neighbourhood Team instead of a fixed partner

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 21:40:00.000000

``routing_rule.ward_team``: the rule goes to the partner whose ``ward_code`` is the report's
ward, so one rule per category replaces one row per ward. ``partner_id`` is empty on such a
rule; a check keeps exactly one of the two.

Existing rows are collapsed where that changes nothing: active rows of one category, role and
conditions (no area) whose set is exactly "each ward → that ward's team", for every active
ward that has one. They become one ward-team rule, and the rows are deactivated, not deleted,
so the rule ids in reports' routing history still resolve; both changes are in the rules'
history. Any other set of rows is left as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As ``safer_streets.routing.rules.WARD_TEAM``, frozen here with the migration.
WARD_TEAM = "the ward's Safer Neighbourhood Team"
COLLAPSE_WHY = (
    "One rule naming the ward's Safer Neighbourhood Team replaces one rule per ward "
    "(schema migration 0008)"
)
IDENTITY = (
    "category_id",
    "ward_id",
    "area_id",
    "window_start",
    "window_end",
    "reason",
    "partner_id",
    "role",
)

# The queries below name each active ward's team ("teams") as routing resolves it: the first
# partner (lowest id) whose ward_code is the ward's code.


def upgrade() -> None:
    op.add_column(
        "routing_rule",
        sa.Column("ward_team", sa.Boolean(), server_default="false", nullable=False),
    )
    op.alter_column("routing_rule", "partner_id", existing_type=sa.Integer(), nullable=True)
    op.drop_constraint("rule_identity", "routing_rule", type_="unique")
    op.create_unique_constraint(
        "rule_identity",
        "routing_rule",
        [*IDENTITY[:-1], "ward_team", "role"],
        postgresql_nulls_not_distinct=True,
    )
    op.create_check_constraint(
        op.f("ck_routing_rule_one_partner"), "routing_rule", "(partner_id IS NULL) = ward_team"
    )
    _collapse(op.get_bind())


def _collapse(connection: sa.Connection) -> None:
    team_count = connection.scalar(
        sa.text(
            """
            SELECT count(DISTINCT p.ward_code)
            FROM partner p JOIN ward w ON w.code = p.ward_code AND w.active
            """
        )
    )
    if not team_count:
        return
    groups = connection.execute(
        sa.text(
            """
            WITH teams AS (
                SELECT DISTINCT ON (p.ward_code) p.ward_code, p.id AS partner_id, w.id AS ward_id
                FROM partner p JOIN ward w ON w.code = p.ward_code AND w.active
                ORDER BY p.ward_code, p.id, w.id
            )
            SELECT r.category_id, r.window_start, r.window_end, r.reason, r.role,
                   array_agg(r.id ORDER BY r.id) AS ids
            FROM routing_rule r JOIN teams t
              ON t.ward_id = r.ward_id AND t.partner_id = r.partner_id
            WHERE r.active AND r.area_id IS NULL
            GROUP BY r.category_id, r.window_start, r.window_end, r.reason, r.role
            HAVING count(DISTINCT t.ward_code) = :teams
            ORDER BY min(r.id)
            """
        ),
        {"teams": team_count},
    ).all()
    for group in groups:
        rule_id = connection.scalar(
            sa.text(
                """
                INSERT INTO routing_rule (category_id, window_start, window_end, reason,
                                          ward_team, role, active)
                VALUES (:category_id, :window_start, :window_end, :reason, true, :role, true)
                RETURNING id
                """
            ),
            {key: value for key, value in group._asdict().items() if key != "ids"},
        )
        _record(connection, rule_id, "created", before=None)
        for old_id in group.ids:
            before = _snapshot(connection, old_id)
            connection.execute(
                sa.text("UPDATE routing_rule SET active = false WHERE id = :id"), {"id": old_id}
            )
            _record(connection, old_id, "deactivated", before=before)


def _snapshot(connection: sa.Connection, rule_id: int) -> dict[str, Any]:
    """The rule as its history stores it (``safer_streets.routing.rules.snapshot``)."""
    row = connection.execute(
        sa.text(
            """
            SELECT c.slug AS category, w.code AS ward, w.name AS ward_name, a.slug AS area,
                   r.window_start, r.window_end, r.reason, p.slug AS partner, r.ward_team,
                   r.role, r.active
            FROM routing_rule r
            LEFT JOIN category c ON c.id = r.category_id
            LEFT JOIN ward w ON w.id = r.ward_id
            LEFT JOIN area a ON a.id = r.area_id
            LEFT JOIN partner p ON p.id = r.partner_id
            WHERE r.id = :id
            """
        ),
        {"id": rule_id},
    ).one()
    window = None
    if row.window_start is not None and row.window_end is not None:
        window = f"{row.window_start:%H:%M}–{row.window_end:%H:%M}"
    return {
        "category": row.category,
        "ward": row.ward,
        "ward_name": row.ward_name,
        "area": row.area,
        "window": window,
        "reason": row.reason,
        "partner": WARD_TEAM if row.ward_team else row.partner,
        "role": row.role,
        "active": row.active,
    }


def _record(
    connection: sa.Connection, rule_id: int, action: str, *, before: dict[str, Any] | None
) -> None:
    connection.execute(
        sa.text(
            """
            INSERT INTO routing_rule_change (rule_id, action, why, before, after)
            VALUES (:rule_id, :action, :why, CAST(:before AS jsonb), CAST(:after AS jsonb))
            """
        ),
        {
            "rule_id": rule_id,
            "action": action,
            "why": COLLAPSE_WHY,
            "before": json.dumps(before) if before is not None else None,
            "after": json.dumps(_snapshot(connection, rule_id)),
        },
    )


def downgrade() -> None:
    # Back to one row per ward: each ward-team rule becomes (or reactivates) a row for every
    # active ward with a team; a ward-team rule in a named area has no such form and goes.
    op.execute(
        """
        WITH teams AS (
            SELECT DISTINCT ON (p.ward_code) p.ward_code, p.id AS partner_id, w.id AS ward_id
            FROM partner p JOIN ward w ON w.code = p.ward_code AND w.active
            ORDER BY p.ward_code, p.id, w.id
        )
        INSERT INTO routing_rule (category_id, ward_id, area_id, window_start, window_end,
                                  reason, partner_id, role, ward_team, active)
        SELECT r.category_id, t.ward_id, NULL, r.window_start, r.window_end, r.reason,
               t.partner_id, r.role, false, r.active
        FROM routing_rule r JOIN teams t ON r.ward_id IS NULL OR r.ward_id = t.ward_id
        WHERE r.ward_team AND r.area_id IS NULL
        ON CONFLICT ON CONSTRAINT rule_identity
        DO UPDATE SET active = routing_rule.active OR EXCLUDED.active
        """
    )
    op.execute(
        "DELETE FROM routing_rule_change "
        "WHERE rule_id IN (SELECT id FROM routing_rule WHERE ward_team)"
    )
    op.execute("DELETE FROM routing_rule WHERE ward_team")
    op.drop_constraint(op.f("ck_routing_rule_one_partner"), "routing_rule", type_="check")
    op.drop_constraint("rule_identity", "routing_rule", type_="unique")
    op.create_unique_constraint(
        "rule_identity", "routing_rule", list(IDENTITY), postgresql_nulls_not_distinct=True
    )
    op.alter_column("routing_rule", "partner_id", existing_type=sa.Integer(), nullable=False)
    op.drop_column("routing_rule", "ward_team")
