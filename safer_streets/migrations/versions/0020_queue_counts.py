"""The queue's counts kept by the database; trigram indexes for its search by place

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 12:45:00.000000

At a million reports, counting a partner's queue on every page (``count(*)`` over everything
it may see) took most of a second. ``queue_count`` holds the counts per partner, status,
category and ward instead: statement triggers on ``report`` and ``report_notified_partner``
add one row of changes per statement, in the same transaction, so a count is never behind;
``casework.counts.compact`` sums them every few minutes. A report counts for its owner, for
each other partner notified of it (once, as ``access.visibility`` shows it once) and in the
borough-wide rows (partner NULL). The table is filled here from the stored reports.

A partner's queue opens on its open reports, newest first: ``ix_report_owner_open_created``
holds exactly those, in that order, so the first page and the map read no closed report.

Searching for part of a street, place or postcode (``ILIKE '%...%'``) read every report of
the queue; pg_trgm's GIN indexes find the matches instead.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_COLUMNS = ("street", "location_text", "postcode")


def _contributions(rows: str, n: str) -> str:
    """What the reports in ``rows`` add to the counts, ``n`` each: the borough's row, the
    owner's and each notified partner's that is not the owner."""
    return f"""
        SELECT v.partner_id, r.status, r.category_id, r.ward_id, {n} AS n
        FROM {rows} AS r
        CROSS JOIN LATERAL (VALUES (NULL::integer, true), (r.owner_partner_id, false))
            AS v (partner_id, borough)
        WHERE v.borough OR v.partner_id IS NOT NULL
        UNION ALL
        SELECT p.partner_id, r.status, r.category_id, r.ward_id, {n}
        FROM {rows} AS r JOIN report_notified_partner AS p ON p.report_id = r.id
        WHERE p.partner_id IS DISTINCT FROM r.owner_partner_id"""  # noqa: S608 - our names


def _notified(rows: str, n: str) -> str:
    """What the notified partners in ``rows`` (of report_notified_partner) add, ``n`` each."""
    return f"""
        SELECT p.partner_id, r.status, r.category_id, r.ward_id, {n} AS n
        FROM {rows} AS p JOIN report AS r ON r.id = p.report_id
        WHERE p.partner_id IS DISTINCT FROM r.owner_partner_id"""  # noqa: S608 - our names


def _add(*parts: str) -> str:
    """One row of changes per partner, status, category and ward that changed."""
    return f"""
        INSERT INTO queue_count (partner_id, status, category_id, ward_id, n)
        SELECT partner_id, status, category_id, ward_id, sum(n)
        FROM ({" UNION ALL ".join(parts)}) AS changes
        GROUP BY partner_id, status, category_id, ward_id
        HAVING sum(n) <> 0;"""  # noqa: S608 - our names


# Reports whose counted fields changed in an UPDATE, as they were (o) or are now (n).
_CHANGED = """(SELECT {side}.id, {side}.status, {side}.category_id, {side}.ward_id,
                      {side}.owner_partner_id
               FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
               WHERE (o.status, o.category_id, o.ward_id, o.owner_partner_id)
                     IS DISTINCT FROM (n.status, n.category_id, n.ward_id, n.owner_partner_id))"""

FUNCTIONS = {
    "queue_count_report_insert": _add(_contributions("new_rows", "1")),
    "queue_count_report_update": _add(
        _contributions(_CHANGED.format(side="o"), "-1"),
        _contributions(_CHANGED.format(side="n"), "1"),
    ),
    "queue_count_report_delete": _add(_contributions("old_rows", "-1")),
    "queue_count_notified_insert": _add(_notified("new_rows", "1")),
    "queue_count_notified_update": _add(_notified("old_rows", "-1"), _notified("new_rows", "1")),
    "queue_count_notified_delete": _add(_notified("old_rows", "-1")),
    # TRUNCATE has no rows to go by: count everything again.
    "queue_count_truncated": "PERFORM queue_count_rebuild();",
}
TRIGGERS = (
    ("report", "INSERT", "NEW TABLE AS new_rows", "queue_count_report_insert"),
    (
        "report",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "queue_count_report_update",
    ),
    ("report", "DELETE", "OLD TABLE AS old_rows", "queue_count_report_delete"),
    ("report_notified_partner", "INSERT", "NEW TABLE AS new_rows", "queue_count_notified_insert"),
    (
        "report_notified_partner",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "queue_count_notified_update",
    ),
    ("report_notified_partner", "DELETE", "OLD TABLE AS old_rows", "queue_count_notified_delete"),
    ("report", "TRUNCATE", None, "queue_count_truncated"),
    ("report_notified_partner", "TRUNCATE", None, "queue_count_truncated"),
)


def upgrade() -> None:
    op.create_index(
        "ix_report_owner_open_created",
        "report",
        ["owner_partner_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text(
            "status IN ('acknowledged', 'in_progress', 'needs_attention', 'needs_location', "
            "'received', 'routed')"
        ),
    )
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name in TRIGRAM_COLUMNS:
        op.create_index(
            f"ix_report_{name}_trgm",
            "report",
            [name],
            postgresql_using="gin",
            postgresql_ops={name: "gin_trgm_ops"},
        )
    op.create_table(
        "queue_count",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("ward_id", sa.Integer(), nullable=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queue_count"),
    )
    op.create_index(
        "ix_queue_count_partner",
        "queue_count",
        ["partner_id", "category_id", "ward_id", "status"],
    )
    op.execute(
        f"""
        CREATE FUNCTION queue_count_rebuild() RETURNS void LANGUAGE sql AS $$
            DELETE FROM queue_count;
            {_add(_contributions("report", "1"))}
        $$"""  # noqa: S608 - our names
    )
    for name, body in FUNCTIONS.items():
        op.execute(
            f"""
            CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {body}
                RETURN NULL;
            END $$"""
        )
    for table, event, referencing, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {function}_{event.lower()} AFTER {event} ON {table} "
            + (f"REFERENCING {referencing} " if referencing else "")
            + f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    op.execute("SELECT queue_count_rebuild()")
    op.execute("ANALYZE queue_count")


def downgrade() -> None:
    for table, event, _, function in TRIGGERS:
        op.execute(f"DROP TRIGGER {function}_{event.lower()} ON {table}")
    for name in FUNCTIONS:
        op.execute(f"DROP FUNCTION {name}()")
    op.execute("DROP FUNCTION queue_count_rebuild()")
    op.drop_index("ix_queue_count_partner", table_name="queue_count")
    op.drop_table("queue_count")
    for name in TRIGRAM_COLUMNS:
        op.drop_index(f"ix_report_{name}_trgm", table_name="report")
    op.drop_index("ix_report_owner_open_created", table_name="report")
