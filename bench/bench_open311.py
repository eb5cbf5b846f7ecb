"""Open311 costs: checking an API key, and a partner polling a full page of 1,000 requests.

Run: .venv/bin/python -m bench.bench_open311

1. API key check (``api_keys`` hashes keys with SHA-256) against the baseline of checking the
   same key with argon2, as passwords are checked: the ratio is what every API call saves.
2. ``GET /open311/v2/requests.{xml,json}?page_size=1000`` on 1,000 routed reports in a scratch
   database (``safer_streets_bench_open311``), through the Flask app in-process, against the
   baseline of the database query alone (the same SELECT with the same eager loads): the ratio
   is the cost of building the public view (the disclosure policy and snapping included) and
   rendering.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import platform
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import create_engine, select, text

from geo.wards import WardIndex
from safer_streets import migrate
from safer_streets.accounts.passwords import Passwords
from safer_streets.data import seed
from safer_streets.db import make_engine, make_session_factory, session_scope
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.open311 import georeport
from safer_streets.routing import processing
from safer_streets.settings import Settings
from safer_streets.web.app import create_app
from workers.queue import TaskQueue, make_celery

SERVER = os.environ.get(
    "SAFER_STREETS_BENCH_SERVER_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432"
)
DATABASE = "safer_streets_bench_open311"
REPORTS = 1000
# Categories the public sees one by one: harassment never appears in Open311 lists.
CATEGORIES = [
    "street-lighting",
    "drug-dealing",
    "anti-social-behaviour",
    "feeling-unsafe",
    "fly-tipping",
]
POINTS = [(-0.0207, 51.4452), (-0.0130, 51.4630), (-0.0520, 51.4390), (0.0120, 51.4500)]


def timed(call: Callable[[], object], repeat: int) -> float:
    """Median seconds per call over ``repeat`` calls (after one warm-up)."""
    call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_keys() -> None:
    key = f"ssk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
    stored = hashlib.sha256(key.encode()).hexdigest()
    # Passwords are checked at the production cost (the default settings).
    passwords = Passwords.for_settings(Settings(secret_key="bench"))
    argon_hash = passwords.hash(key)

    def sha256_check() -> bool:
        return hmac.compare_digest(stored, hashlib.sha256(key.encode()).hexdigest())

    ours = timed(sha256_check, 20000)
    baseline = timed(lambda: passwords.verify(argon_hash, key), 30)
    print("API key check (per call)")
    print(f"  SHA-256 (ours):            {ours * 1e6:10.2f} µs")
    print(f"  argon2 verify (baseline):  {baseline * 1e6:10.2f} µs")
    print(f"  baseline / ours:           {baseline / ours:10.0f}×")


def prepare_database() -> str:
    url = f"{SERVER}/{DATABASE}"
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    settings = Settings(secret_key="bench", database_url=url)
    app = create_app(settings, session_factory=factory)
    places = app.extensions["safer_streets"].places
    wards = WardIndex.from_geojson()
    with session_scope(factory) as session:
        seed.load_wards(session)
        seed.seed(session)
    with session_scope(factory) as session:
        for i in range(REPORTS):
            lon, lat = POINTS[i % len(POINTS)]
            category = CATEGORIES[i % len(CATEGORIES)]
            submission = parse_submission(
                {
                    "category": category,
                    "lat": lat + (i % 17) * 1e-4,
                    "lon": lon + (i % 13) * 1e-4,
                    "description": f"Bench report {i}",
                    "reasons": ["badly-lit"] if category == "feeling-unsafe" else [],
                }
            )
            report, _ = submit_report(session, submission, places=places)
            processing.process_reports(session, [report.id], wards, places)
    return url


def bench_requests_page() -> None:
    url = prepare_database()
    factory = make_session_factory(make_engine(url))
    settings = Settings(
        secret_key="bench",
        database_url=url,
        api_read_rate_limit="1000000 per minute",
        redis_url="redis://127.0.0.1:6379/15",
    )
    app = create_app(settings, session_factory=factory, task_queue=TaskQueue(make_celery(settings)))
    client = app.test_client()
    path = "/open311/v2/requests.{}?page_size=1000"
    assert len(client.get(path.format("json")).get_json()) == REPORTS

    def query_only() -> None:
        with factory() as session:
            found = georeport.find_requests(session, {"page_size": "1000"}, datetime.now(UTC))
            assert len(found) == REPORTS

    baseline = timed(query_only, 15)
    as_json = timed(lambda: client.get(path.format("json")), 15)
    as_xml = timed(lambda: client.get(path.format("xml")), 15)
    print(f"GET requests, a page of {REPORTS} routed reports (median)")
    print(f"  query only (baseline):     {baseline * 1e3:10.1f} ms")
    for name, seconds in (("requests.json", as_json), ("requests.xml", as_xml)):
        ratio = seconds / baseline
        print(f"  {name + ':':26} {seconds * 1e3:10.1f} ms   ({ratio:.1f}× baseline)")
    with factory() as session:
        count = session.scalar(select(text("count(*)")).select_from(text("report")))
    assert count == REPORTS


def main() -> None:
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    bench_keys()
    bench_requests_page()


if __name__ == "__main__":
    main()
