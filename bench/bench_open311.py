"""Open311 costs: checking an API key, and a partner polling a full page of 1,000 requests.

Run: .venv/bin/python -m bench.bench_open311 [--repeat 15] [--quick]

1. API key check (``api_keys`` hashes keys with SHA-256) against the baseline of checking the
   same key with argon2, as passwords are checked: the ratio is what every API call saves.
2. ``GET /open311/v2/requests.{xml,json}?page_size=1000`` on 1,000 routed reports in a scratch
   database (``safer_streets_bench_open311``), through the Flask app in-process, against the
   baseline of the database query alone (the same SELECT with the same eager loads): the ratio
   is the cost of building the public view (the disclosure policy and snapping included) and
   rendering.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime

from sqlalchemy import create_engine, select, text

from bench.results import Baseline, Results, repeat_timed
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


def bench_keys(results: Results, repeat: int) -> None:
    key = f"ssk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
    stored = hashlib.sha256(key.encode()).hexdigest()
    # Passwords are checked at the production cost (the default settings).
    passwords = Passwords.for_settings(Settings(secret_key="bench"))
    argon_hash = passwords.hash(key)

    def sha256_check() -> bool:
        return hmac.compare_digest(stored, hashlib.sha256(key.encode()).hexdigest())

    batch = 20000
    ours = [
        seconds / batch
        for seconds in repeat_timed(lambda: [sha256_check() for _ in range(batch)], repeat)
    ]
    theirs = repeat_timed(lambda: passwords.verify(argon_hash, key), max(repeat, 10))
    results.add(
        "API key check (SHA-256 of a 256-bit secret), one call",
        ours,
        "s",
        baseline=Baseline("argon2 verify, as passwords are checked", theirs),
    )


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
        seed.load_reference_data(session)
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


def bench_requests_page(results: Results, repeat: int) -> None:
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

    baseline = Baseline("the database query alone", repeat_timed(query_only, repeat))
    for kind in ("json", "xml"):
        results.add(
            f"`GET requests.{kind}?page_size=1000`, {REPORTS:,} routed reports",
            repeat_timed(lambda kind=kind: client.get(path.format(kind)), repeat),
            "s",
            baseline=baseline,
        )
    with factory() as session:
        count = session.scalar(select(text("count(*)")).select_from(text("report")))
    assert count == REPORTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 repetitions")
    args = parser.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 5)
    results = Results(
        "open311",
        "Open311",
        "The API key check (keys are stored as SHA-256 of a 256-bit secret) against checking "
        "the same key with argon2 at the production settings, as passwords are checked: what "
        f"every API call saves. A partner polling `GET /open311/v2/requests` for a page of "
        f"{REPORTS:,} routed reports through the Flask app in-process, against the database "
        "query alone (the same SELECT with the same eager loads): a ratio below 1 is the cost "
        "of building the public view (privacy coarsening included) and rendering it.",
        args,
    )
    bench_keys(results, args.repeat)
    bench_requests_page(results, args.repeat)
    results.save()


if __name__ == "__main__":
    main()
