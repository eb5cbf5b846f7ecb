"""The worker's batch routing path, timed as the worker runs it, against the code at another commit.

Run: .venv/bin/python -m bench.bench_worker_batch [--reports 2000] [--batch 100] [--repeat 5]
                                                 [--before c3be893] [--quick]

``processing.process_reports`` (what the ``process_reports`` task calls) routes stored
``received`` reports in batches of ``--batch`` (the sweep sends 100; a task takes up to 200
waiting ones along): geocoding typed places, nearest street and postcode, ward, named areas,
rules, the writes and the partner emails in the outbox. The reports are a realistic mix made
through intake (``submit_report``): a third GPS points, a third postcodes, a third typed street
names (placed by the worker), a third of them with an email address, some with reasons.
Each repetition routes all of them in one transaction, then rolls it back, so every repetition
(and the baseline) routes the same received reports; commit costs are not included.

Baseline, in the same run on the same reports: the same function in the code at ``--before``
(its ``safer_streets`` and ``geo`` packages taken with ``git archive``). Each repetition runs in
a fresh interpreter after one untimed pass, ours and the baseline alternately, so that the
machine's load falls on both alike. Figures are CPU time (user + system) and wall time per
report.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from sqlalchemy import text

from bench.results import CHECKOUT, Baseline, Results
from bench.shared_database import database_url, ensure_database
from geo import DATA_DIR
from geo.gazetteer import _display_name
from safer_streets.db import make_session_factory
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.places import Places

SOURCE = "bench-batch"
# The last commit whose worker looked up each report's ward and nearest street one at a time.
BEFORE = "c3be893"
SEED = 2026
# Points the mix places reports at: real Lewisham streets, so every kind routes somewhere.
CATEGORIES = ("drug-dealing", "anti-social-behaviour", "fly-tipping", "feeling-unsafe")
REASONS = {"feeling-unsafe": ["badly-lit"]}

# Run in each fresh interpreter: the code to measure, the database, the batch size. Prints one
# JSON line with CPU and wall seconds per report for one timed pass after an untimed one.
CHILD = r"""
import json, resource, sys, time
code, url, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, code)
from sqlalchemy import select
from safer_streets.db import make_engine, make_session_factory
from safer_streets.models import Report, ReportStatus
from safer_streets.places import Places, load_ward_index
from safer_streets.routing import processing

factory = make_session_factory(make_engine(url))
places = Places.default()
cache = processing.RoutingDataCache()
with factory() as session:
    wards = load_ward_index(session)
    ids = session.scalars(
        select(Report.id)
        .where(Report.source == "bench-batch", Report.status == ReportStatus.RECEIVED)
        .order_by(Report.id)
    ).all()


def one_pass():
    with factory() as session:
        routed = 0
        for start in range(0, len(ids), batch_size):
            routed += len(
                processing.process_reports(
                    session, ids[start : start + batch_size], wards, places, cache
                )
            )
        session.rollback()
    assert routed == len(ids), (routed, len(ids))


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


one_pass()
cpu0, wall0 = cpu(), time.perf_counter()
one_pass()
wall = time.perf_counter() - wall0
print(json.dumps({"cpu_s": (cpu() - cpu0) / len(ids), "wall_s": wall / len(ids)}))
"""


def street_names() -> list[str]:
    with (DATA_DIR / "lewisham_street_points_from_police.csv").open(newline="") as fh:
        return sorted(
            {_display_name(r["name"]) for r in csv.DictReader(fh) if r["kind"] == "street"}
        )


def postcode_points() -> list[tuple[str, float, float]]:
    with (DATA_DIR / "lewisham_postcodes_codepoint_2025.csv").open(newline="") as fh:
        return [
            (r["postcode"], float(r["latitude"]), float(r["longitude"])) for r in csv.DictReader(fh)
        ]


def remove_reports(engine) -> None:
    """This benchmark's reports, so that none is left ``received`` for other benchmarks."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM report_event WHERE report_id IN "
                "(SELECT id FROM report WHERE source = :s)"
            ),
            {"s": SOURCE},
        )
        conn.execute(text("DELETE FROM report WHERE source = :s"), {"s": SOURCE})


def make_reports(engine, n: int) -> None:
    """``n`` received reports of the mix, made through intake (earlier ones removed first)."""
    rng = random.Random(SEED)
    streets, postcodes = street_names(), postcode_points()
    places = Places.default()
    remove_reports(engine)
    with make_session_factory(engine)() as session:
        for i in range(n):
            category = CATEGORIES[i % len(CATEGORIES)]
            values: dict[str, object] = {"category": category, "description": "Seen tonight"}
            postcode, lat, lon = rng.choice(postcodes)
            if i % 3 == 0:
                near = (lat + rng.uniform(-3e-4, 3e-4), lon + rng.uniform(-3e-4, 3e-4))
                values["lat"], values["lon"] = (
                    near if places.borough.covers(near[1], near[0]) else (lat, lon)
                )
            elif i % 3 == 1:
                values["location_text"] = postcode.lower().replace(" ", "")
            else:
                values["location_text"] = rng.choice(streets)
            if i % 3 != 2 or rng.random() < 0.5:
                values["contact_email"] = f"resident{i}@example.org"
                values["anonymous"] = False
            if category in REASONS and rng.random() < 0.5:
                values["reasons"] = REASONS[category]
            submit_report(session, parse_submission(values), places=places, source=SOURCE)
        session.commit()


def export(commit: str, into: Path) -> Path:
    """The ``safer_streets`` and ``geo`` packages as they were at ``commit``."""
    archive = subprocess.run(
        ["git", "archive", commit, "safer_streets", "geo"],
        cwd=CHECKOUT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(code: Path, batch: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(code), database_url(), str(batch)],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", default=BEFORE, help="the commit measured as the baseline")
    parser.add_argument("--quick", action="store_true", help="600 reports, 3 repetitions")
    args = parser.parse_args()
    if args.quick:
        args.reports, args.repeat = min(args.reports, 600), min(args.repeat, 3)
    before = subprocess.run(
        ["git", "rev-parse", "--short", args.before],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    results = Results(
        "worker_batch",
        "The worker routing a batch",
        f"`processing.process_reports`, as the `process_reports` task calls it, on "
        f"{args.reports:,} received reports in batches of {args.batch}: a third GPS points, a "
        "third postcodes, a third typed street names (geocoded by the worker); a third with an "
        "email address. Per report: geocoding, nearest street and postcode, ward, named areas, "
        "rules, the writes and the partner email in the outbox; each repetition rolled back, "
        "commit not included. Baseline: the same function in the code at commit "
        f"`{before}`, on the same reports in the same run, each repetition in a fresh "
        "interpreter, alternating with ours.",
        args,
    )
    engine = ensure_database()
    make_reports(engine, args.reports)
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            old = export(args.before, Path(scratch))
            for _ in range(args.repeat):
                theirs.append(measure(old, args.batch))
                ours.append(measure(CHECKOUT, args.batch))
                print(f"  ours {ours[-1]}, before {theirs[-1]}", flush=True)
    finally:
        remove_reports(engine)
    for key, what in (("cpu_s", "CPU"), ("wall_s", "wall time")):
        results.add(
            f"{what} per report, batches of {args.batch}",
            [run[key] for run in ours],
            "s",
            baseline=Baseline(f"the same at `{before}`", [run[key] for run in theirs]),
        )
    results.note(
        "Throughput of one process at the median CPU time: "
        f"{1 / results.data['measures'][0]['median']:,.0f} reports/s."
    )
    results.save()


if __name__ == "__main__":
    main()
