"""Each report carries the partners notified of it, kept by the database, for the queue

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 15:40:00.000000

A council team is notified of about a quarter of the borough's reports. Its queue under an
area or ward filter intersected that quarter (a join to ``report_notified_partner``) with the
filter's reports, reading every one of them at a million reports: 50-250 ms a count.
``report.notified_partner_ids`` holds the same partners as an array, so that a GIN index
answers "notified to this partner" beside the filters' own indexes, as FixMyStreet keeps the
bodies a problem was sent to on the problem. ``report_notified_partner`` stays the record;
statement triggers rewrite the array of each report whose rows change, in the same
transaction, so the two never disagree. The partial index holds open reports notified to
someone: the queue opens on open reports, and reading it needs no test of status. Its
condition names the array, which only the queue's "notified to" query repeats: with open
statuses alone it would serve any query of open reports (the board's), and reading a whole
GIN index to list them was slower than the status index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = (
    "status IN ('acknowledged', 'in_progress', 'needs_attention', 'needs_location', "
    "'received', 'routed')"
)


_PARTNERS = """ARRAY(SELECT p.partner_id FROM report_notified_partner AS p
                      WHERE p.report_id = r.id ORDER BY p.partner_id)"""


def _rewrite(changed: str) -> str:
    """Set the array of every report with a row in ``changed`` from the table.

    Planned at each call (``EXECUTE``): PL/pgSQL would keep the plan of a connection's first
    call for its whole life, and one made for thousands of changed rows (a bulk re-route)
    reads every report, which each later one-report change on that connection would then do
    again. Only arrays that differ are written: the worker sets the array in the same UPDATE
    that routes the report, and a second write would touch every index of the table.
    """
    return f"""
        EXECUTE $sql$
        UPDATE report AS r SET notified_partner_ids = {_PARTNERS}
        WHERE r.id = ANY(ARRAY({changed}))
          AND r.notified_partner_ids IS DISTINCT FROM {_PARTNERS}
        $sql$;"""  # noqa: S608 - our names


FUNCTIONS = {
    "report_notified_ids_insert": _rewrite("SELECT report_id FROM new_rows"),
    "report_notified_ids_update": _rewrite(
        "SELECT report_id FROM old_rows UNION SELECT report_id FROM new_rows"
    ),
    "report_notified_ids_delete": _rewrite("SELECT report_id FROM old_rows"),
    "report_notified_ids_truncate": (
        "UPDATE report SET notified_partner_ids = '{}' WHERE notified_partner_ids <> '{}';"
    ),
}
TRIGGERS = (
    ("INSERT", "NEW TABLE AS new_rows", "report_notified_ids_insert"),
    ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "report_notified_ids_update"),
    ("DELETE", "OLD TABLE AS old_rows", "report_notified_ids_delete"),
    ("TRUNCATE", None, "report_notified_ids_truncate"),
)


def upgrade() -> None:
    op.add_column(
        "report",
        sa.Column(
            "notified_partner_ids",
            postgresql.ARRAY(sa.Integer()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.execute(
        """
        UPDATE report AS r SET notified_partner_ids = n.ids
        FROM (SELECT report_id, array_agg(partner_id ORDER BY partner_id) AS ids
              FROM report_notified_partner GROUP BY report_id) AS n
        WHERE n.report_id = r.id"""
    )
    op.create_index(
        "ix_report_notified_partner_ids",
        "report",
        ["notified_partner_ids"],
        postgresql_using="gin",
    )
    op.create_index(
        "ix_report_notified_partner_ids_open",
        "report",
        ["notified_partner_ids"],
        postgresql_using="gin",
        postgresql_where=sa.text(f"{OPEN} AND notified_partner_ids <> '{{}}'"),
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
    for event, referencing, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {function} AFTER {event} ON report_notified_partner "
            + (f"REFERENCING {referencing} " if referencing else "")
            + f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    op.execute("ANALYZE report")


def downgrade() -> None:
    for _, _, function in TRIGGERS:
        op.execute(f"DROP TRIGGER {function} ON report_notified_partner")
    for name in FUNCTIONS:
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_index("ix_report_notified_partner_ids_open", table_name="report")
    op.drop_index("ix_report_notified_partner_ids", table_name="report")
    op.drop_column("report", "notified_partner_ids")
