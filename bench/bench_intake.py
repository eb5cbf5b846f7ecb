"""Intake under load: the JSON API behind gunicorn, against a bare insert-one-row baseline.

Run: .venv/bin/python -m bench.bench_intake [--duration 60] [--web-workers 4] [--threads 8]

Everything runs on this machine: a scratch database (safer_streets_bench), a private Redis,
gunicorn for the app and for the baseline (bench/baseline_app.py), two Celery worker processes,
and the load generator (bench/loadgen.py). Phases:

1. maximum throughput, closed loop, of the baseline and of the intake API (ratio printed);
2. open loop at 500 reports/s: latency percentiles and errors, then how long until every report
   is routed after the load ends;
3. an open loop within capacity (200/s) with Redis up, then with Redis stopped: submissions
   must not fail or slow down;
4. end-to-end submit → routed latency at 50 reports/s;
5. the routing worker draining a backlog of 20,000 reports with two processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bench.loadgen import build_request, closed_loop, open_loop
from bench.results import Baseline, Results
from safer_streets import migrate
from safer_streets.data import seed
from safer_streets.db import make_session_factory, session_scope
from safer_streets.settings import Settings
from tests.faults.services import PrivateRedis, WorkerProcess, free_port, wait_for_port
from workers.queue import PROCESS_REPORTS, make_celery
from workers.tasks import SWEEP_BATCH

ROOT = Path(__file__).resolve().parents[1]

SERVER = os.environ.get(
    "SAFER_STREETS_BENCH_SERVER_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432"
)
DATABASE = "safer_streets_bench"
REDIS_RATE = 200
VENV_BIN = Path(sys.executable).parent
# Points spread over Lewisham so routing sees many wards.
POINTS = [
    (-0.0207, 51.4452),
    (-0.0130, 51.4630),
    (-0.0270, 51.4800),
    (-0.0520, 51.4390),
    (0.0120, 51.4500),
    (-0.0330, 51.4250),
    (-0.0050, 51.4330),
    (-0.0440, 51.4610),
]
CATEGORIES = [
    "drug-dealing",
    "street-lighting",
    "fly-tipping",
    "anti-social-behaviour",
    "feeling-unsafe",
    "dangerous-road",
]


def prepare_database() -> str:
    """A fresh scratch database with the schema, wards, areas and seed."""
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = f"{SERVER}/{DATABASE}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        seed.load_reference_data(session)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_row (id serial PRIMARY KEY, body text)"))
    engine.dispose()
    return url


def environment(settings: Settings) -> dict[str, str]:
    return {f"SAFER_STREETS_{k.upper()}": str(v) for k, v in settings.__dict__.items()}


@contextmanager
def gunicorn(
    target: str, env: dict[str, str], workers: int, threads: int = 1, log: Path | None = None
):
    """Serve ``target`` on a free port; its output goes to ``log`` when given."""
    port = free_port()
    output = log.open("ab") if log is not None else None
    process = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            # The load generator keeps connections between requests, as a proxy in front
            # would; with gunicorn's 2 s default it would meet connections just closed idle.
            "--keep-alive",
            "75",
            "--log-level",
            "warning",
            target,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )
    try:
        wait_for_port(port, timeout=60)
        yield port
    finally:
        process.terminate()
        process.wait(30)
        if output is not None:
            output.close()


def report_body(i: int) -> bytes:
    """Report number ``i``: categories and points taken in turn, each point a little apart."""
    lon, lat = POINTS[i % len(POINTS)]
    return json.dumps(
        {
            "category": CATEGORIES[i % len(CATEGORIES)],
            "lat": lat + (i % 97) * 1e-5,
            "lon": lon + (i % 89) * 1e-5,
            "description": f"Benchmark report {i}",
        }
    ).encode()


def report_request(host: str):
    def make(i: int) -> bytes:
        headers = {"Content-Type": "application/json"}
        return build_request(host, "/api/v1/reports", report_body(i), headers)

    return make


def row_request(host: str):
    def make(i: int) -> bytes:
        return build_request(host, "/rows", f"row {i}".encode(), {"Content-Type": "text/plain"})

    return make


def count_by_status(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM report GROUP BY status")).all()
    engine.dispose()
    return dict(rows)


def wait_until_routed(url: str, timeout: float = 120) -> float:
    """Seconds until no report is left `received`."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if count_by_status(url).get("received", 0) == 0:
            return time.perf_counter() - start
        time.sleep(0.2)
    return float("inf")


def truncate(url: str) -> None:
    """Empty the report tables once the worker has let go of them (it may still be emailing)."""
    engine = create_engine(url)
    for _ in range(10):
        try:
            with engine.begin() as conn:
                conn.execute(text("SET lock_timeout = '5s'"))
                conn.execute(
                    text(
                        "TRUNCATE email_outbox, report_event, report_notified_partner, report "
                        "RESTART IDENTITY CASCADE"
                    )
                )
            break
        except OperationalError:
            time.sleep(1)
    engine.dispose()


def warm_up(host: str, port: int, make_request) -> None:
    """Load the app in every gunicorn worker before measuring: they boot after the port opens."""
    asyncio.run(closed_loop(host, port, make_request, 32, 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--web-workers", type=int, default=4)
    # Requests mostly wait on PostgreSQL and Redis: threads overlap those waits.
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="15 s per phase")
    args = parser.parse_args()
    if args.quick:
        args.duration = min(args.duration, 15)
    results = Results(
        "intake",
        "Intake under load",
        f"gunicorn {args.web_workers} workers × {args.threads} threads, two Celery worker "
        "processes, PostgreSQL, Redis, an SMTP sink and the load generator on the same cores; "
        f"{args.duration:.0f} s per phase, one run of each (single values). Baseline: "
        "`bench/baseline_app.py`, a bare Flask endpoint inserting one row, behind the same "
        "gunicorn, measured with no Celery worker running while the intake runs with the worker "
        "routing alongside (so the ratio is not like for like). Only the cheapest body is sent "
        "(a point, no email, no key).",
        args,
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    print(
        f"duration {args.duration:.0f} s per phase, gunicorn {args.web_workers} workers "
        f"x {args.threads} threads"
    )

    url = prepare_database()
    redis = PrivateRedis()
    redis.start()
    # Every routed report emails its partner: a real SMTP server takes them (and drops them).
    smtp_port = free_port()
    sink = ["-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{smtp_port}"]
    smtp = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", *sink])
    settings = Settings(
        secret_key="bench",
        database_url=url,
        redis_url=redis.url,
        celery_queue="safer-streets-bench",
        # The load generator is one address standing in for thousands of residents.
        api_write_rate_limit="1000000 per minute",
        area_rate_limit="1000000 per minute",
        smtp_port=smtp_port,
    )
    env = environment(settings)
    worker = WorkerProcess(env, ROOT / "var" / "bench-worker.log", concurrency=2)
    (ROOT / "var").mkdir(exist_ok=True)
    host = "127.0.0.1"
    try:
        with gunicorn("bench.baseline_app:app", env, args.web_workers, args.threads) as port:
            warm_up(host, port, row_request(host))
            base = asyncio.run(
                closed_loop(host, port, row_request(host), args.connections, args.duration)
            )
        print(f"\n[1] baseline insert-one-row, closed loop: {base.summary()}")
        base_rate = Baseline(
            "bare insert-one-row endpoint, closed loop", [base.ok / base.elapsed_s]
        )

        worker.start()
        with gunicorn(
            "safer_streets.web.app:create_app()", env, args.web_workers, args.threads
        ) as port:
            warm_up(host, port, report_request(host))
            wait_until_routed(url)
            truncate(url)
            intake = asyncio.run(
                closed_loop(host, port, report_request(host), args.connections, args.duration)
            )
            print(f"[1] intake API, closed loop:              {intake.summary()}")
            print(
                f"    ratio intake / baseline throughput: {intake.ok / intake.elapsed_s / (base.ok / base.elapsed_s):.2f}"
            )
            lag = wait_until_routed(url)
            print(f"    all {intake.ok} routed {lag:.1f} s after the load ended")
            results.add(
                "intake API, closed loop, worker routing alongside",
                [intake.ok / intake.elapsed_s],
                "/s",
                baseline=base_rate,
                higher_is_better=True,
            )
            results.add("intake API, closed loop: p99", [intake.percentile_ms(99) / 1000], "s")
            results.add("all routed after the closed loop ended", [lag], "s")

            truncate(url)
            steady = asyncio.run(open_loop(host, port, report_request(host), 500, args.duration))
            print(f"\n[2] open loop 500/s: {steady.summary()}")
            print(f"    all routed {wait_until_routed(url):.1f} s after the load ended")
            results.add("open loop offered at 500/s: served", [steady.ok / steady.elapsed_s], "/s")
            results.add("open loop offered at 500/s: p99", [steady.percentile_ms(99) / 1000], "s")

            # Within capacity, so that only Redis differs between the two runs.
            quarter = min(args.duration, 20)
            truncate(url)
            up = asyncio.run(open_loop(host, port, report_request(host), REDIS_RATE, quarter))
            print(f"\n[3] open loop {REDIS_RATE}/s, Redis up:      {up.summary()}")
            wait_until_routed(url)
            redis.stop()
            truncate(url)
            down = asyncio.run(open_loop(host, port, report_request(host), REDIS_RATE, quarter))
            print(f"    open loop {REDIS_RATE}/s, Redis stopped: {down.summary()}")
            print(f"    stored: {count_by_status(url)}")
            for state, run in (("up", up), ("stopped", down)):
                results.add(
                    f"open loop {REDIS_RATE}/s, Redis {state}: p99 ({run.failed} failed)",
                    [run.percentile_ms(99) / 1000],
                    "s",
                )
            redis.start()
            swept = wait_until_routed(url, 300)
            print(f"    after Redis returned: all routed in {swept:.1f} s (by the sweep)")
            results.add("all routed after Redis returned (by the sweep)", [swept], "s")

            truncate(url)
            asyncio.run(open_loop(host, port, report_request(host), 50, min(args.duration, 20)))
            wait_until_routed(url)
            engine = create_engine(url)
            with engine.connect() as conn:
                lags = np.array(
                    conn.scalars(
                        text("SELECT extract(epoch FROM routed_at - created_at) FROM report")
                    ).all(),
                    dtype=float,
                )
            engine.dispose()
            print(
                f"\n[4] end to end submit → routed at 50/s: p50 {np.percentile(lags, 50) * 1000:.0f} ms, "
                f"p95 {np.percentile(lags, 95) * 1000:.0f} ms, p99 {np.percentile(lags, 99) * 1000:.0f} ms"
            )
            for q in (50, 95, 99):
                results.add(
                    f"end to end submit → routed at 50/s, p{q}",
                    [float(np.percentile(lags, q))],
                    "s",
                )
        worker.stop()

        truncate(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            ids = conn.scalars(
                text("""
                INSERT INTO report (reference, category_id, description, location, status, source,
                                    anonymous, reasons, supporter_count, priority, version_id)
                SELECT 'LEW-B' || lpad(g::text, 6, '0'), 1 + g % 13, 'backlog',
                       ST_SetSRID(ST_MakePoint(-0.06 + random() * 0.08, 51.42 + random() * 0.06), 4326),
                       'received', 'bench', true, '{}', 0, 'normal', 1
                FROM generate_series(1, 20000) g RETURNING id""")
            ).all()
        engine.dispose()
        # Queued as the sweep re-enqueues a backlog after an outage: in batches.
        celery = make_celery(settings)
        with celery.producer_or_acquire() as producer:
            for start in range(0, len(ids), SWEEP_BATCH):
                batch = ids[start : start + SWEEP_BATCH]
                celery.send_task(PROCESS_REPORTS, args=[batch], producer=producer)
        worker = WorkerProcess(
            {**env, "SAFER_STREETS_SWEEP_AFTER_SECONDS": "3600"},
            ROOT / "var" / "bench-drain.log",
            concurrency=2,
        )
        worker.start()
        drained = wait_until_routed(url, 600)
        worker.stop()
        print(
            f"\n[5] worker (2 processes) drained 20,000 reports in {drained:.1f} s = {20000 / drained:,.0f}/s "
            "(including worker start-up)"
        )
        results.add(
            "two worker processes draining 20,000 queued reports (start-up included)",
            [20000 / drained],
            "/s",
        )
        results.save()
    finally:
        worker.stop()
        redis.stop()
        smtp.terminate()


if __name__ == "__main__":
    main()
