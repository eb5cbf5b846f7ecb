"""Matching new public reports to residents' alerts: 10,000 subscriptions x 1,000 new reports.

Run: .venv/bin/python -m bench.bench_alerts [--subscriptions 10000] [--reports 1000] [--repeat 5]

A scratch database of its own (``safer_streets_bench_alerts`` on the test server, recreated
each run) holds the Lewisham seed, 1,000 reports routed in the last hour at real postcodes in
publicly listed categories, and 10,000 confirmed subscriptions: 40 % by ward, 15 % by town
centre, 45 % by a distance of 250 m to 2 km around a real postcode, 30 % of them for every
category and the rest for one to three. Each repetition empties the sweep's tables and times
``alerts.match_new_reports`` (the one statement the worker's sweep runs, committed), then
``alerts.queue_alert_emails`` (one outbox email per matched subscription). Target: the match
in at most 1 s. The load average is recorded with the figures: the machine may be shared.

With ``--baseline``: the same statement without the subscriptions' reach index (the distance
part tested by ``ST_DWithin`` on geography alone), as it would be written first; slow, so
once only.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, text

from bench.results import Baseline, Results
from geo import DATA_DIR
from safer_streets import migrate
from safer_streets.data import seed
from safer_streets.db import make_engine, make_session_factory, session_scope
from safer_streets.models import (
    AlertFrequency,
    Area,
    Category,
    EmailOutbox,
    Report,
    ReportStatus,
    Ward,
)
from safer_streets.residents import alerts

SERVER = "postgresql+psycopg://postgres:postgres@127.0.0.1:5432"
DATABASE_URL = f"{SERVER}/safer_streets_bench_alerts"
TARGET_S = 1.0


def postcodes() -> list[tuple[float, float, str]]:
    """(lon, lat, ward code) of every shipped Lewisham postcode."""
    with (DATA_DIR / "lewisham_postcodes_codepoint_2025.csv").open() as rows:
        return [
            (float(r["longitude"]), float(r["latitude"]), r["ward_2022_code"])
            for r in csv.DictReader(rows)
        ]


def fill(factory, n_subscriptions: int, n_reports: int, now: datetime) -> None:
    """The reports and subscriptions described above, in one transaction."""
    rng = random.Random(16)
    points = postcodes()
    with session_scope(factory) as session:
        wards = dict(session.execute(select(Ward.code, Ward.id).where(Ward.active)).all())
        areas = list(session.scalars(select(Area.id).where(Area.kind == "town-centre")))
        categories = list(
            session.scalars(select(Category.id).where(Category.public, Category.disclosure_listed))
        )
        reports = []
        for i in range(n_reports):
            lon, lat, ward = rng.choice(points)
            lon, lat = lon + rng.uniform(-3e-4, 3e-4), lat + rng.uniform(-2e-4, 2e-4)
            reports.append(
                {
                    "reference": f"BEN-{i:05d}",
                    "category_id": rng.choice(categories),
                    "description": "benchmark",
                    "location": f"SRID=4326;POINT({lon} {lat})",
                    "status": ReportStatus.ROUTED,
                    "ward_id": wards[ward],
                    "routed_at": now - timedelta(minutes=rng.uniform(1, 60)),
                }
            )
        session.execute(insert(Report), reports)
        subscriptions = []
        for i in range(n_subscriptions):
            chosen = [] if rng.random() < 0.3 else rng.sample(categories, rng.randint(1, 3))
            row = {
                "email": f"resident{i}@example.org",
                "place_label": "benchmark",
                "category_ids": chosen,
                "frequency": AlertFrequency.IMMEDIATE.value,
                "nonce": f"{i:016x}",
                "confirmed_at": now - timedelta(days=1),
                "ward_id": None,
                "area_id": None,
                "point": None,
                "radius_m": None,
            }
            kind = rng.random()
            if kind < 0.40:
                row |= {"kind": "ward", "ward_id": rng.choice(list(wards.values()))}
            elif kind < 0.55:
                row |= {"kind": "area", "area_id": rng.choice(areas)}
            else:
                lon, lat, _ward = rng.choice(points)
                row |= {
                    "kind": "distance",
                    "point": f"SRID=4326;POINT({lon} {lat})",
                    "radius_m": rng.choice(alerts.RADIUS_CHOICES),
                }
            subscriptions.append(row)
        # Reach as subscribe() sets it, for all distance subscriptions in one statement.
        session.execute(
            text(
                "INSERT INTO alert_subscription (email, kind, ward_id, area_id, point, radius_m,"
                " reach, place_label, category_ids, frequency, nonce, confirmed_at) VALUES"
                " (:email, :kind, :ward_id, :area_id, ST_GeomFromEWKT(CAST(:point AS text)),"
                " CAST(:radius_m AS integer), ST_Envelope(geometry(ST_Buffer(geography("
                "ST_GeomFromEWKT(CAST(:point AS text))), CAST(:radius_m AS integer) * 1.01))),"
                " :place_label, :category_ids, :frequency, :nonce, :confirmed_at)"
            ),
            subscriptions,
        )
    with make_engine(DATABASE_URL).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def timed_match(factory, now: datetime, statement=None) -> tuple[float, int, float, int]:
    """Seconds to match (and how many report-subscription matches), then to write the emails
    (and how many)."""
    with session_scope(factory) as session:
        session.execute(text("TRUNCATE alert_delivery, alert_swept_report"))
        session.execute(delete(EmailOutbox))
    with session_scope(factory) as session:
        started = time.perf_counter()
        if statement is None:
            alerts.match_new_reports(session, now)
        else:
            session.execute(text("SET LOCAL jit = off"))
            session.execute(statement, alerts.match_parameters(now))
        session.commit()
        match_s = time.perf_counter() - started
        matches = session.scalar(text("SELECT sum(cardinality(report_ids)) FROM alert_delivery"))
        started = time.perf_counter()
        emails = len(alerts.queue_alert_emails(session, now, AlertFrequency.IMMEDIATE))
        session.commit()
        queue_s = time.perf_counter() - started
    return match_s, matches, queue_s, emails


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--reports", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--quick", action="store_true", help="3 repetitions")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 3
    results = Results(
        "alerts",
        "Matching new reports to area alerts",
        "One SQL statement joins new public reports to confirmed subscriptions by ward, town"
        " centre and distance (a bounding-box index, then ST_DWithin on geography), then the"
        " emails are queued one per subscriber.",
        args,
    )

    migrate.recreate_database(DATABASE_URL)
    migrate.upgrade(DATABASE_URL)
    factory = make_session_factory(make_engine(DATABASE_URL))
    with session_scope(factory) as session:
        seed.load_reference_data(session)
    now = datetime.now(UTC)
    fill(factory, args.subscriptions, args.reports, now)

    runs = [timed_match(factory, now) for _ in range(args.repeat)]
    baseline = []
    if args.baseline:
        without_reach = alerts.MATCH_SQL.text.replace("s.reach && n.location\n            AND ", "")
        assert without_reach != alerts.MATCH_SQL.text
        statement = text(without_reach).bindparams(
            bindparam("point_precisions", expanding=True), bindparam("statuses", expanding=True)
        )
        baseline = [timed_match(factory, now, statement)]
        assert baseline[0][1] == runs[0][1], "the same matches both ways"

    match_s = [run[0] for run in runs]
    results.add(
        f"match {args.reports:,} reports against {args.subscriptions:,} subscriptions",
        match_s,
        "s",
        baseline=Baseline("the same statement without the bounding-box index", [baseline[0][0]])
        if baseline
        else None,
        target=f"under {TARGET_S} s",
        met=statistics.median(match_s) < TARGET_S,
    )
    results.add("queue one email per subscriber matched", [run[2] for run in runs], "s")
    results.note(f"{runs[0][1]:,} report-subscription matches, {runs[0][3]:,} emails.")
    results.save()


if __name__ == "__main__":
    main()
