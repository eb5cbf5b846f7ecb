"""Nearby open reports within 50 m with a million reports stored, against a table scan.

Run: .venv/bin/python -m bench.bench_nearby [--reports 1000000] [--queries 2000] [--baseline 20]
     [--repeat 5] [--quick]

Uses the scratch database of bench/shared_database.py (reports near real postcodes, so dense where
people live: a few hundred reports within 50 m of a typical query point). Each query is
``reports.nearby_open_reports`` (open reports of one category within 50 m from the last 30
days, nearest first) at the point of a random stored report, through the ORM as the product
calls it. Target: p99 under 10 ms.

Baseline, measured in the same run: the same query with index scans switched off, as the
table would be read without the geography index (``enable_indexscan``/``enable_bitmapscan``
off for that transaction).
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from sqlalchemy import func, select, text

from bench.results import Baseline, Results
from bench.shared_database import ensure_database, ensure_reports
from safer_streets.db import make_session_factory
from safer_streets.intake.similar import nearby_open_reports, nearby_open_reports_query
from safer_streets.models import Category, Report

TARGET_P99_MS = 10.0


def query_points(factory, n: int) -> list[tuple[float, float, int]]:
    """Points of random stored reports, each with a random category."""
    with factory() as session:
        total = session.scalar(select(func.max(Report.id)))
        categories = session.scalars(select(Category.id)).all()
        rng = random.Random(11)
        ids = rng.sample(range(1, total + 1), n)
        rows = session.execute(
            select(func.ST_X(Report.location), func.ST_Y(Report.location)).where(Report.id.in_(ids))
        ).all()
        return [(lon, lat, rng.choice(categories)) for lon, lat in rows]


def timed(session, points) -> tuple[np.ndarray, list[int]]:
    out, found = np.empty(len(points)), []
    for i, (lon, lat, category_id) in enumerate(points):
        started = time.perf_counter()
        result = nearby_open_reports(session, lon=lon, lat=lat, category_id=category_id)
        out[i] = (time.perf_counter() - started) * 1000
        found.append(len(result))
        session.expunge_all()
    return out, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--baseline", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the queries")
    parser.add_argument("--quick", action="store_true", help="100,000 reports, 3 passes")
    args = parser.parse_args()
    if args.quick:
        args.reports, args.repeat = min(args.reports, 100_000), min(args.repeat, 3)
        args.queries, args.baseline = min(args.queries, 500), min(args.baseline, 10)

    results = Results(
        "nearby",
        "Nearby open reports",
        f"`reports.nearby_open_reports` (open reports of one category within 50 m from the "
        f"last 30 days, nearest first, through the ORM) at the points of {args.queries:,} random "
        f"stored reports, with {args.reports:,} stored; one median and one p99 per pass over "
        "the queries. Baseline: the same query with index scans switched off for the "
        f"transaction (a table scan), on the first {args.baseline} of the same queries.",
        args,
    )
    engine = ensure_database()
    made = ensure_reports(engine, args.reports)
    if made is not None:
        results.note(f"{args.reports:,} reports made set-based in {made:.1f} s.")
    factory = make_session_factory(engine)
    points = query_points(factory, args.queries)

    medians, p99s, base_medians = [], [], []
    with factory() as session:
        lon, lat, category_id = points[0]
        sql = nearby_open_reports_query(lon=lon, lat=lat, category_id=category_id).compile(
            dialect=session.bind.dialect, compile_kwargs={"literal_binds": True}
        )
        plan = "\n".join(session.scalars(text(f"EXPLAIN {sql}")))
        uses_index = "ix_report_location_geography" in plan
        timed(session, points[:100])  # warm the cache as a running system would be
    for _ in range(args.repeat):
        with factory() as session:
            ours, found = timed(session, points)
        with factory() as session:
            session.execute(text("SET LOCAL enable_indexscan = off"))
            session.execute(text("SET LOCAL enable_bitmapscan = off"))
            base, base_found = timed(session, points[: args.baseline])
            session.rollback()
        medians.append(float(np.median(ours)) / 1000)
        p99s.append(float(np.percentile(ours, 99)) / 1000)
        base_medians.append(float(np.median(base)) / 1000)
    results.add(
        "one query, median",
        medians,
        "s",
        baseline=Baseline("the same query as a table scan (no index)", base_medians),
    )
    results.add(
        "one query, p99",
        p99s,
        "s",
        target=f"p99 < {TARGET_P99_MS:.0f} ms",
        met=max(p99s) * 1000 < TARGET_P99_MS,
    )
    results.note(
        f"Reports found per query: median {np.median(found):.0f}, max {max(found)}. The plan "
        f"uses ix_report_location_geography: {uses_index}. Same answers as the table scan: "
        f"{found[: args.baseline] == base_found}."
    )
    results.save()


if __name__ == "__main__":
    main()
