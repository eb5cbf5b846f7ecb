"""The scratch database several benchmarks share: the Lewisham data and, on request, a
million stored reports.

``bench_wards``, ``bench_reroute`` and ``bench_nearby`` all use it, and it is kept between
runs (made once, then checked), so the million reports are not made again for each; never the
database `make run` uses. The benchmarks that need a database of their own (intake, board,
Open311, triage queue) make and drop it themselves. The reports are made
set-based in one INSERT ... SELECT over generate_series: each lies within about 50 m of a
real Lewisham postcode (so density follows where people live), in that postcode's ward,
with a category, an occurrence time over the last 60 days and, for some, reasons.
"""

from __future__ import annotations

import csv
import io
import os
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo import DATA_DIR
from safer_streets import migrate
from safer_streets.data import seed
from safer_streets.db import make_engine, make_session_factory, session_scope

SERVER_URL = os.environ.get(
    "SAFER_STREETS_BENCH_SERVER_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432"
)
DATABASE = os.environ.get("SAFER_STREETS_BENCH_DATABASE", "safer_streets_bench_routing")


def database_url() -> str:
    """The scratch database's URL."""
    return f"{SERVER_URL}/{DATABASE}"


def ensure_database() -> Engine:
    """The scratch database, created, migrated and seeded if it is not already."""
    admin = create_engine(f"{SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    migrate.upgrade(database_url())
    engine = make_engine(database_url())
    with session_scope(make_session_factory(engine)) as session:
        seed.load_reference_data(session)
    return engine


def _postcode_copy() -> str:
    with (DATA_DIR / "lewisham_postcodes_codepoint_2025.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = io.StringIO()
    for number, row in enumerate(rows):
        out.write(f"{number}\t{row['longitude']}\t{row['latitude']}\t{row['ward_2022_code']}\n")
    return out.getvalue()


def ensure_reports(engine: Engine, count: int) -> float | None:
    """Make sure exactly ``count`` benchmark reports are stored; seconds taken if made now."""
    with engine.connect() as conn:
        stored = conn.scalar(text("SELECT count(*) FROM report WHERE source = 'bench'"))
    if stored == count:
        return None
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text("TRUNCATE report_event, report_notified_partner, report RESTART IDENTITY CASCADE")
        )
        conn.execute(
            text(
                "CREATE TEMP TABLE bench_postcode "
                "(n int PRIMARY KEY, lon float8, lat float8, ward_code text) ON COMMIT DROP"
            )
        )
        raw = conn.connection.dbapi_connection
        with raw.cursor().copy("COPY bench_postcode FROM STDIN") as copy:
            copy.write(_postcode_copy())
        conn.execute(text("SELECT setseed(0.2026)"))
        conn.execute(
            text(
                """
                WITH categories AS (SELECT array_agg(id ORDER BY position) AS ids FROM category),
                     postcodes AS (SELECT count(*) AS n FROM bench_postcode)
                INSERT INTO report (
                    reference, category_id, description, location, occurred_at, anonymous,
                    status, source, ward_id, reasons, created_at, updated_at, routed_at,
                    priority, supporter_count, version_id
                )
                SELECT
                    'B-' || s.g,
                    categories.ids[1 + s.g % array_length(categories.ids, 1)],
                    'Benchmark report',
                    ST_SetSRID(ST_MakePoint(p.lon + (s.jx - 0.5) * 0.0014,
                                            p.lat + (s.jy - 0.5) * 0.0009), 4326),
                    s.at,
                    true,
                    'routed',
                    'bench',
                    ward.id,
                    CASE WHEN s.g % 5 = 0 THEN ARRAY['badly-lit', 'isolated']::varchar[]
                         WHEN s.g % 7 = 0 THEN ARRAY['no-cctv']::varchar[]
                         ELSE '{}'::varchar[] END,
                    s.at + interval '5 minutes',
                    s.at + interval '5 minutes',
                    s.at + interval '6 minutes',
                    'normal', 0, 1
                FROM (
                    SELECT g, now() - random() * interval '60 days' AS at,
                           random() AS jx, random() AS jy
                    FROM generate_series(1, :count) AS g
                ) AS s
                CROSS JOIN categories CROSS JOIN postcodes
                JOIN bench_postcode p ON p.n = (s.g::bigint * 7919) % postcodes.n
                JOIN ward ON ward.code = p.ward_code AND ward.active
                """
            ),
            {"count": count},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE report"))
    return time.perf_counter() - started
