"""The queue's count triggers plan well for one row and for thousands

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 16:50:00.000000

PL/pgSQL keeps a trigger statement's plan for the rest of the connection's life, planned for
the transition table of its first call. When that first call changed thousands of reports (a
bulk re-route), the plan joined ``report_notified_partner`` (or ``report``) by hashing the whole
table, and every later one-report update on that connection read the whole table again: 7 ms a
report update at 100,000 reports, growing with the table. Each changed report's notified
partners (and each changed notification's report) are now read through a lateral subquery that
PostgreSQL cannot fold into a join (``OFFSET 0``), so it is always an index look-up per row.
The other way round, a plan kept from one-row calls paired a bulk update's old and new rows
by comparing each with every other (10,000 rows: 46 s): past ``FEW_ROWS`` a statement is planned
afresh for its size. The counting itself is unchanged (migration 0020).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
        FROM {rows} AS r
        CROSS JOIN LATERAL (SELECT partner_id FROM report_notified_partner
                            WHERE report_id = r.id OFFSET 0) AS p
        WHERE p.partner_id IS DISTINCT FROM r.owner_partner_id"""  # noqa: S608 - our names


def _notified(rows: str, n: str) -> str:
    """What the notified partners in ``rows`` (of report_notified_partner) add, ``n`` each."""
    return f"""
        SELECT p.partner_id, r.status, r.category_id, r.ward_id, {n} AS n
        FROM {rows} AS p
        CROSS JOIN LATERAL (SELECT status, category_id, ward_id, owner_partner_id FROM report
                            WHERE id = p.report_id OFFSET 0) AS r
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

# Up to this many rows a statement's kept plan (made for a few rows) serves; past it the
# statement is planned afresh for its own size: a plan kept from one-row calls pairs a bulk
# update's old and new rows by comparing every one with every other.
FEW_ROWS = 50


def _sized(rows: str, body: str) -> str:
    """``body`` run with PL/pgSQL's kept plan for a few ``rows``, planned afresh for many."""
    return f"""
        IF (SELECT count(*) FROM {rows}) <= {FEW_ROWS} THEN
            {body}
        ELSE
            EXECUTE $sql${body.strip().rstrip(";")}$sql$;
        END IF;"""  # noqa: S608 - our names


FUNCTIONS = {
    "queue_count_report_insert": _sized("new_rows", _add(_contributions("new_rows", "1"))),
    "queue_count_report_update": _sized(
        "new_rows",
        _add(
            _contributions(_CHANGED.format(side="o"), "-1"),
            _contributions(_CHANGED.format(side="n"), "1"),
        ),
    ),
    "queue_count_report_delete": _sized("old_rows", _add(_contributions("old_rows", "-1"))),
    "queue_count_notified_insert": _sized("new_rows", _add(_notified("new_rows", "1"))),
    "queue_count_notified_update": _sized(
        "new_rows", _add(_notified("old_rows", "-1"), _notified("new_rows", "1"))
    ),
    "queue_count_notified_delete": _sized("old_rows", _add(_notified("old_rows", "-1"))),
}


def upgrade() -> None:
    for name, body in FUNCTIONS.items():
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {body}
                RETURN NULL;
            END $$"""
        )


def downgrade() -> None:
    # Nothing to undo: the functions count exactly as migration 0020's did, and 0020's own
    # downgrade drops them.
    pass
