"""Time the partner queue (/triage) with a million reports against a naive baseline.

Run: .venv/bin/python -m bench.bench_triage_queue [--reports 1000000] [--repeat 30] [--keep]
                                                  [--reuse] [--no-export] [--quick]

A scratch database (``safer_streets_bench_triage`` on the test server, or
``SAFER_STREETS_BENCH_DATABASE``) is migrated, seeded with the real Lewisham wards, partners,
routing rules and town centres, then filled with reports set-based (INSERT … SELECT over
generate_series, owners and notified partners from the real routing rules). Making a million
takes about five minutes: ``--reuse`` keeps the database (``safer_streets_bench_queue1m``) and
uses it again on the next run with as many reports, migrated to the current schema first. Each
page is rendered through the Flask test client, so the time is the whole server side: filters,
scoping, counts per status, one page of rows and the template; the map's markers, which the
map's script asks for once the page is shown (``/triage/map.json``), are timed as a request of
their own.

The named baseline, "exact counts, OFFSET paging, no triage indexes", is measured in the same
run on the same data: the same pages with every count done the obvious way (one exact
``count(*)`` per status over ``owner = p OR EXISTS (notified)``), the rows paged with OFFSET
over the same condition, and the triage indexes dropped (``ix_report_owner_created``,
``ix_report_ward_created``, ``ix_report_open_due`` and the trigram indexes of the search).

The export is timed once per user, with the peak Python memory (tracemalloc) while the whole
CSV streams, to show it stays flat however many rows there are; ``--no-export`` leaves it out
(at a million reports a whole queue is hundreds of thousands of rows, minutes each).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

import pyotp
from sqlalchemy import create_engine, func, select, text

from bench.results import Baseline, Results
from safer_streets import migrate
from safer_streets.accounts import two_factor, users
from safer_streets.accounts.passwords import Passwords
from safer_streets.casework import access, counts, queues
from safer_streets.data import seed
from safer_streets.db import make_engine, make_session_factory, session_scope
from safer_streets.models import Report, Role, User, UserSecurity
from safer_streets.settings import Settings
from safer_streets.web.app import create_app

SERVER = os.environ.get(
    "SAFER_STREETS_TEST_SERVER_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432"
)
DATABASE = os.environ.get("SAFER_STREETS_BENCH_DATABASE", "safer_streets_bench_triage")
REDIS = os.environ.get("SAFER_STREETS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PASSWORD = "bench password 2026"
TARGET_MS = 100

PAGES = {
    "default": "/triage",
    "open, due soonest": "/triage?status=open&sort=due",
    "Rushey Green, breached": "/triage?ward=rushey-green&breached=yes",
    "Catford town centre": "/triage?area=catford-town-centre",
    "page 20": "/triage?page=20",
    # Every bench description has these words: the search's worst case.
    "search: words, all match": "/triage?q=noticed+home",
    "search: words, none": "/triage?q=streetlight",
    "search: street": "/triage?q=Rushey+Road",
}
USERS = {
    "SNT sergeant (met-snt-rushey-green)": ("sgt@bench.example", "met-snt-rushey-green"),
    "council officer (lewisham-community-safety)": (
        "officer@bench.example",
        "lewisham-community-safety",
    ),
    "board": ("board@bench.example", None),
}
OUR_INDEXES = (
    "ix_report_owner_created",
    "ix_report_ward_created",
    "ix_report_open_due",
    "ix_report_street_trgm",
    "ix_report_location_text_trgm",
    "ix_report_postcode_trgm",
)

LOAD_REPORTS = """
WITH borough AS (SELECT ST_Union(geom) AS geom FROM ward WHERE active),
box AS (SELECT ST_XMin(geom) x0, ST_XMax(geom) x1, ST_YMin(geom) y0, ST_YMax(geom) y1
        FROM borough),
cats AS (SELECT array_agg(id ORDER BY position) AS ids FROM category),
raw AS (
  SELECT i,
         ST_SetSRID(ST_MakePoint(x0 + random() * (x1 - x0), y0 + random() * (y1 - y0)), 4326)
           AS point,
         ids[1 + floor(random() * array_length(ids, 1))::int] AS category_id,
         now() - random() * interval '730 days' AS created,
         random() AS roll
  FROM generate_series(1, :n) AS i, box, cats
)
INSERT INTO report (reference, category_id, description, location, anonymous, contact_email,
                    status, source, ward_id, created_at, updated_at, routed_at,
                    owner_partner_id, priority,
                    acknowledge_due_at, resolve_due_at, acknowledged_at, resolved_at,
                    supporter_count, version_id)
SELECT 'LEW-B' || lpad(raw.i::text, 7, '0'), raw.category_id,
       'Bench report ' || raw.i || ': something a resident noticed on their way home',
       raw.point, raw.i % 3 <> 0, 'resident' || raw.i || '@example.org',
       CASE WHEN raw.roll < 0.15 THEN 'routed' WHEN raw.roll < 0.25 THEN 'acknowledged'
            WHEN raw.roll < 0.35 THEN 'in_progress' WHEN raw.roll < 0.85 THEN 'resolved'
            WHEN raw.roll < 0.93 THEN 'not_actionable' WHEN raw.roll < 0.97 THEN 'referred'
            ELSE 'duplicate' END,
       'web', ward.id, raw.created, raw.created, raw.created,
       COALESCE(
         (SELECT partner_id FROM routing_rule WHERE role = 'owner'
            AND category_id = raw.category_id AND ward_id = ward.id LIMIT 1),
         (SELECT team.id FROM routing_rule JOIN partner team ON team.ward_code = ward.code
            WHERE role = 'owner' AND ward_team AND category_id = raw.category_id
            ORDER BY team.id LIMIT 1),
         (SELECT partner_id FROM routing_rule WHERE role = 'owner'
            AND category_id = raw.category_id AND ward_id IS NULL AND NOT ward_team LIMIT 1),
         (SELECT partner_id FROM routing_rule WHERE role = 'owner' AND category_id IS NULL
            LIMIT 1)),
       (ARRAY['low', 'normal', 'normal', 'normal', 'high', 'urgent'])[1 + raw.i % 6],
       raw.created + interval '24 hours', raw.created + interval '14 days',
       CASE WHEN raw.roll >= 0.15 THEN raw.created + random() * interval '48 hours' END,
       CASE WHEN raw.roll >= 0.35 THEN raw.created + random() * interval '20 days' END,
       (raw.i % 7), 1
FROM raw JOIN borough ON ST_Covers(borough.geom, raw.point)
LEFT JOIN ward ON ward.active AND ST_Covers(ward.geom, raw.point)
ORDER BY raw.i
LIMIT :limit
"""
NOTIFY_PARTNERS = """
INSERT INTO report_notified_partner (report_id, partner_id)
SELECT DISTINCT r.id, COALESCE(rule.partner_id, team.id) FROM report r
JOIN routing_rule rule ON rule.role = 'notified' AND rule.category_id = r.category_id
  AND (rule.ward_id = r.ward_id OR rule.ward_id IS NULL)
LEFT JOIN ward ON ward.id = r.ward_id
LEFT JOIN partner team ON rule.ward_team AND team.ward_code = ward.code
WHERE COALESCE(rule.partner_id, team.id) <> r.owner_partner_id
"""
ROUTED_EVENTS = """
INSERT INTO report_event (report_id, at, kind, from_status, to_status, note, public, data)
SELECT id, created_at, 'routed', 'received', 'routed', 'Routed by the bench loader', true, '{}'
FROM report
"""


def reused_database(reports: int) -> str:
    """The kept database's name for this many reports, e.g. ``safer_streets_bench_queue1m``."""
    size = f"{reports // 1_000_000}m" if reports % 1_000_000 == 0 else f"{reports // 1000}k"
    return f"safer_streets_bench_queue{size}"


def stored_reports(url: str) -> int | None:
    """How many reports a kept database holds (``None``: there is no such database)."""
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.rsplit("/", 1)[1]}
        )
    admin.dispose()
    if not exists:
        return None
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM report"))
    engine.dispose()
    return count


def reuse_database(url: str, reports: int) -> bool:
    """Bring a kept database with exactly ``reports`` reports up to the current schema;
    ``False`` when there is none to reuse. Migrations that fill tables from the reports
    (the queue's counts) run on the stored million as they would in production."""
    if stored_reports(url) != reports:
        return False
    started = time.perf_counter()
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"Reused {reports:,} reports, migrated in {time.perf_counter() - started:.1f} s")
    return True


def prepare_database(reports: int, *, reuse: bool) -> str:
    """The URL of a database with ``reports`` reports: the kept one when ``reuse`` and it
    has as many, else made now (and kept under its own name when ``reuse``)."""
    url = f"{SERVER}/{reused_database(reports) if reuse else DATABASE}"
    if not (reuse and reuse_database(url, reports)):
        build_database(url, reports)
    return url


def build_database(url: str, reports: int) -> str:
    """A fresh scratch database with the schema, the Lewisham seed and ``reports`` reports."""
    migrate.recreate_database(url)
    migrate.upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    with session_scope(make_session_factory(engine)) as session:
        seed.load_reference_data(session)
        # About half the points in the borough's bounding box fall inside it.
        session.execute(text(LOAD_REPORTS), {"n": int(reports * 2.2), "limit": reports})
        session.execute(text(NOTIFY_PARTNERS))
        session.execute(text(ROUTED_EVENTS))
        # Hashed at the production cost, as the benchmark's app (default settings) checks them.
        passwords = Passwords.for_settings(Settings(secret_key="bench"))
        for email, partner in USERS.values():
            user = users.create_user(
                session,
                passwords=passwords,
                email=email,
                password=PASSWORD,
                role=Role.STAFF if partner else Role.BOARD,
                partner_slug=partner,
            )
            if two_factor.required_for(session, user, two_factor.TwoFactorPolicy()):
                users.set_up_authenticator(session, user, datetime.now(UTC))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        count = conn.scalar(text("SELECT count(*) FROM report"))
    engine.dispose()
    print(f"Loaded {count:,} reports in {time.perf_counter() - started:.1f} s")
    return url


def time_pages(client, repeat: int) -> dict[str, list[float]]:
    """Milliseconds per request for every page and for its map's markers (the request the
    map's script makes once the page is shown), after one warm-up request each."""
    timings: dict[str, list[float]] = {}
    for name, page in PAGES.items():
        # The markers' address as the map's script reads it from the page (``data-points``).
        shown = client.get(page)
        assert shown.status_code == 200, (page, shown.status_code)
        found = re.search(r'data-points="([^"]+)"', shown.text)
        assert found, f"no map on {page}"
        markers = html.unescape(found.group(1))
        for label, path in ((name, page), (f"{name}, map markers", markers)):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            timings[label] = samples
    return timings


def sign_in(client, email: str) -> None:
    """Sign in as the account's owner would: the password, then (police teams) a code from
    the authenticator app, which a bench account is given when it is made."""
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    if not response.headers["Location"].endswith("/login/code"):
        return
    factory = client.application.extensions["safer_streets"].session_factory
    with factory() as session:
        secret = session.scalar(
            select(UserSecurity.totp_secret)
            .join(User, User.id == UserSecurity.user_id)
            .where(User.email == email)
        )
    totp = pyotp.TOTP(secret)
    while client.post("/login/code", data={"code": totp.now()}).status_code != 303:
        time.sleep(30 - time.time() % 30)  # this code was used already: wait for the next


def measure(app, repeat: int) -> dict[str, dict[str, list[float]]]:
    results = {}
    for label, (email, _) in USERS.items():
        client = app.test_client()
        sign_in(client, email)
        results[label] = time_pages(client, repeat)
    return results


def time_export(app) -> dict[str, tuple[int, float, float]]:
    """(rows, seconds, peak MiB) for each user's whole-queue CSV export."""
    out = {}
    for label, (email, _) in USERS.items():
        client = app.test_client()
        sign_in(client, email)
        tracemalloc.start()
        started = time.perf_counter()
        response = client.get("/triage/export.csv")
        rows = -1
        for chunk in response.iter_encoded():
            rows += chunk.count(b"\r\n")
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[label] = (rows, seconds, peak / 2**20)
    return out


def naive_counts(session, user, filters, resolved, filtering, statuses):
    """Baseline: exact counts per status in one query over the OR/EXISTS scoping."""
    query = (
        select(Report.status, func.count())
        .where(access.visibility(user), *filtering)
        .group_by(Report.status)
    )
    tabs = counts.Counts({str(status): count for status, count in session.execute(query)})
    if statuses is None:
        return tabs, tabs
    return tabs, counts.Counts({s: n for s, n in tabs.by_status.items() if s in statuses})


def naive_ordered_ids(session, user, conditions, sort, *, limit, offset=0, few=None):
    """Baseline: one ordered query over the OR/EXISTS scoping, paged with OFFSET, however
    few reports match (``few`` is not used)."""
    query = (
        select(Report.id)
        .where(access.visibility(user), *conditions)
        .order_by(*queues.queue_order(sort))
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query))


def with_baseline(url: str, action: Callable[[], dict]) -> dict:
    """Run ``action`` with the naive queries and without the triage indexes, then restore."""
    engine = make_engine(url)
    with engine.begin() as conn:
        definitions = {
            name: conn.scalar(text("SELECT pg_get_indexdef(CAST(:n AS regclass))"), {"n": name})
            for name in OUR_INDEXES
        }
        for name in OUR_INDEXES:
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("ANALYZE report"))
    originals = (queues._queue_counts, queues._ordered_ids)
    queues._queue_counts, queues._ordered_ids = naive_counts, naive_ordered_ids
    try:
        return action()
    finally:
        queues._queue_counts, queues._ordered_ids = originals
        with engine.begin() as conn:
            for definition in definitions.values():
                conn.execute(text(definition))
            conn.execute(text("ANALYZE report"))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database (safer_streets_bench_queue1m for a million reports) and use "
        "it again on the next run with as many reports, migrated to the current schema",
    )
    parser.add_argument("--no-export", action="store_true", help="do not time the CSV exports")
    parser.add_argument("--quick", action="store_true", help="20,000 reports, 5 requests a page")
    args = parser.parse_args()
    if args.quick:
        args.reports, args.repeat = min(args.reports, 20_000), min(args.repeat, 5)

    results = Results(
        "triage_queue",
        "Partner triage queue",
        f"{args.reports:,} reports; server time of each `/triage` page through the Flask test "
        f"client ({args.repeat} requests each): filters, scoping, counts per status, one page "
        "of rows and the template; the map's markers (`/triage/map.json`, up to 500, asked "
        "for by the map's script once the page is shown) as a request of their own. Counts "
        "come from the stored `queue_count` where they can, else are counted up to "
        f"{counts.COUNT_LIMIT:,}. Baseline in the same run on the same data: the same pages "
        "with exact counts and OFFSET paging over `owner OR EXISTS "
        "notified` and the triage and trigram indexes dropped."
        + ("" if args.no_export else " The CSV export of each user's whole queue is timed once."),
        args,
    )
    url = prepare_database(args.reports, reuse=args.reuse)
    app = create_app(Settings(secret_key="bench", database_url=url, redis_url=REDIS))
    app.config["WTF_CSRF_ENABLED"] = False

    ours = measure(app, args.repeat)
    baseline = with_baseline(url, lambda: measure(app, max(5, args.repeat // 3)))
    for label, pages in ours.items():
        for page, samples in pages.items():
            median = statistics.median(samples)
            results.add(
                f"{label}: {page}",
                [ms / 1000 for ms in samples],
                "s",
                baseline=Baseline(
                    "exact counts, OFFSET paging, no triage indexes",
                    [ms / 1000 for ms in baseline[label][page]],
                ),
                target=f"median < {TARGET_MS} ms",
                met=median < TARGET_MS,
            )
    for label, (rows, seconds, peak) in ({} if args.no_export else time_export(app)).items():
        results.add(f"{label}: CSV export of {rows:,} rows", [seconds], "s")
        results.note(f"{label}: the export's peak Python memory was {peak:.1f} MiB.")
    results.save()

    app.extensions["safer_streets"].session_factory.kw["bind"].dispose()
    if not (args.keep or args.reuse):
        migrate.drop_database(url)


if __name__ == "__main__":
    main()
