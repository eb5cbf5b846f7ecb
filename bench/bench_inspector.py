"""Time the inspector form's submit on a queue of many reports.

Run: .venv/bin/python -m bench.bench_inspector [--reports 1000000] [--repeat 30] [--keep]
                                              [--reuse]

The scratch database is built as ``bench_triage_queue`` builds it (same variables); with
``--reuse`` it is the queue benchmark's kept database of as many reports. Each
sample is one POST of the inspector form through the Flask test client on a routed report the
SNT sergeant's team owns, acknowledging it, setting its priority and writing a public update
and an internal note: the whole server side (permission, version check, the four changes and
their history in one transaction, the resident's email in the outbox), without the redirect.

Baseline, measured in the same run on other reports: the same four changes made the way the
separate forms made them before the inspector form replaced them, one domain call and one
commit each (their requests and page renders left out, which favours the baseline).
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import select

from bench.bench_triage_queue import REDIS, prepare_database, sign_in
from bench.results import Baseline, Results
from safer_streets import migrate
from safer_streets.casework import workflow
from safer_streets.models import Partner, Priority, Report, ReportStatus, User
from safer_streets.settings import Settings
from safer_streets.web.app import create_app

SERGEANT = "sgt@bench.example"
TARGET_MS = 50
FORM = {
    "status": "acknowledged",
    "priority": "high",
    "public_update": "Officers will patrol the area tonight.",
    "internal_note": "Checked against the patrol plan",
}


def routed_references(app, count: int) -> list[str]:
    with app.extensions["safer_streets"].session_factory() as session:
        owner = session.scalar(select(Partner.id).where(Partner.slug == "met-snt-rushey-green"))
        return list(
            session.scalars(
                select(Report.reference)
                .where(
                    Report.owner_partner_id == owner,
                    Report.status == ReportStatus.ROUTED,
                    Report.priority == Priority.NORMAL,
                )
                .order_by(Report.id)
                .limit(count)
            )
        )


def time_inspector(app, references: list[str]) -> list[float]:
    client = app.test_client()
    sign_in(client, SERGEANT)
    samples = []
    for reference in references:
        page = client.get(f"/triage/reports/{reference}").text
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        started = time.perf_counter()
        response = client.post(
            f"/triage/reports/{reference}/inspect", data={"version": version, **FORM}
        )
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 303, response.status_code
    return samples


def time_separately(app, references: list[str]) -> list[float]:
    factory = app.extensions["safer_streets"].session_factory
    samples = []
    for reference in references:
        started = time.perf_counter()
        for change in (
            lambda s, u, r, now: workflow.acknowledge(s, u, r, now=now),
            lambda s, u, r, now: workflow.set_priority(s, u, r, "high", now=now),
            lambda s, u, r, now: workflow.add_note(
                s, u, r, FORM["public_update"], public=True, now=now
            ),
            lambda s, u, r, now: workflow.add_note(s, u, r, FORM["internal_note"], now=now),
        ):
            with factory() as session:
                user = session.scalar(select(User).where(User.email == SERGEANT))
                report = session.scalar(select(Report).where(Report.reference == reference))
                change(session, user, report, datetime.now(UTC))
                session.commit()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="20,000 reports, 10 submits")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse", action="store_true", help="use (or make and keep) the queue benchmark's"
    )
    args = parser.parse_args()
    if args.quick:
        args.reports, args.repeat = 20_000, 10
    results = Results(
        "inspector",
        "The inspector form's submit",
        "Server time of one inspector-form submit (acknowledge, priority, public update and"
        " internal note) against the same four changes made one domain call and one commit"
        " each, as the separate forms did (their extra requests and page renders left out).",
        args,
    )

    url = prepare_database(args.reports, reuse=args.reuse)
    app = create_app(Settings(secret_key="bench", database_url=url, redis_url=REDIS))
    app.config["WTF_CSRF_ENABLED"] = False
    references = routed_references(app, 2 * args.repeat + 1)
    time_inspector(app, references[:1])  # warm-up
    ours = time_inspector(app, references[1 : args.repeat + 1])
    baseline = time_separately(app, references[args.repeat + 1 :])

    median_ms = statistics.median(ours)
    results.add(
        f"one submit, {args.reports:,} reports stored",
        [ms / 1000 for ms in ours],
        "s",
        baseline=Baseline("four separate changes", [ms / 1000 for ms in baseline]),
        target=f"median under {TARGET_MS} ms",
        met=median_ms < TARGET_MS,
    )
    results.note(f"p95 {p95(ours):.1f} ms for one submit, {p95(baseline):.1f} ms for four changes.")
    results.save()

    app.extensions["safer_streets"].session_factory.kw["bind"].dispose()
    if not (args.keep or args.reuse):
        migrate.drop_database(url)


if __name__ == "__main__":
    main()
