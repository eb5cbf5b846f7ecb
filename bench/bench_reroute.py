"""Bulk re-routing of stored reports after a rule change, against the worker's batched path.

Run: .venv/bin/python -m bench.bench_reroute [--reports 1000000] [--sample 5000] [--repeat 5]
     [--quick]

Uses the shared scratch database (safer_streets_bench_routing; see bench/shared_database.py),
filled set-based with generate_series. Measured:

1. the first routing of every stored report (once; every report changes);
2. re-evaluating all of them with unchanged rules (nothing changes: the pure evaluation cost);
3. an admin's rule change (feeling unsafe moves to a new owner, and the badly-lit rule is
   deactivated), then re-routing, ``--repeat`` times (the change is undone between
   repetitions): the target is under 15 s for 1,000,000 reports.

Baseline, measured in the same run: the worker's own batched path, ``processing.
process_reports`` in batches of 100 with the routing data kept between batches (as a worker
process keeps it), on a random sample of the stored reports set back to ``received``, rolled
back, extrapolated to all of them per report. That is what re-routing would cost if every
report were sent through the worker again.
"""

from __future__ import annotations

import argparse
import random
import time

from sqlalchemy import delete, select, text, update

from bench.results import Baseline, Results
from bench.shared_database import ensure_database, ensure_reports
from safer_streets.db import make_session_factory
from safer_streets.models import Report, ReportNotifiedPartner, ReportStatus, Role, User
from safer_streets.places import Places, load_ward_index
from safer_streets.routing import processing, rules
from safer_streets.routing.rerouting import reroute_open_reports

TARGET_SECONDS = 15.0


def timed_reroute(factory, actor, why: str):
    with factory() as session:
        started = time.perf_counter()
        summary = reroute_open_reports(session, actor, why=why)
        session.commit()
        return time.perf_counter() - started, summary


def worker_batches_per_report(factory, sample: int, batch: int = 100) -> float:
    """Seconds per report through the worker's batched path, on a random sample, rolled back."""
    with factory() as session:
        ids = session.scalars(select(Report.id).where(Report.source == "bench")).all()
        chosen = sorted(random.Random(7).sample(list(ids), min(sample, len(ids))))
        wards = load_ward_index(session)
        places = Places.default()
        cache = processing.RoutingDataCache()
        # As they were when received: no status, no notified partners yet.
        session.execute(
            update(Report).where(Report.id.in_(chosen)).values(status=ReportStatus.RECEIVED)
        )
        session.execute(
            delete(ReportNotifiedPartner).where(ReportNotifiedPartner.report_id.in_(chosen))
        )
        session.flush()
        cache.current(session)  # loaded once per worker process, not per batch
        started = time.perf_counter()
        for at in range(0, len(chosen), batch):
            processing.process_reports(session, chosen[at : at + batch], wards, places, cache)
        seconds = time.perf_counter() - started
        session.rollback()
    return seconds / len(chosen)


def bench_admin(factory) -> int:
    with factory() as session:
        admin = session.scalar(select(User).where(User.email == "bench-admin@example.org"))
        if admin is None:
            admin = User(email="bench-admin@example.org", password_hash="x", role=Role.ADMIN)
            session.add(admin)
            session.commit()
        return admin.id


def change_rules(factory, admin_id: int) -> None:
    """The admin's change: a new owner for feeling unsafe; the badly-lit rule switched off."""
    with factory() as session:
        admin = session.get(User, admin_id)
        for rule in rules.list_rules(session, admin, rules.RuleFilter(category="feeling-unsafe")):
            form = rules.form_from_rule(rule)
            if rule.role.value == "owner" and rule.partner.slug == "lewisham-community-safety":
                form.update(partner="lewisham-asb", why="Benchmark: ASB team owns feeling unsafe")
                rules.edit_rule(session, admin, rule.id, form)
            elif rule.reason == "badly-lit":
                rules.set_active(session, admin, rule.id, active=False, why="Benchmark")
        session.commit()


def restore_rules(factory, admin_id: int) -> None:
    """Undo the benchmark's change so the next run starts from the seeded rules."""
    with factory() as session:
        admin = session.get(User, admin_id)
        for rule in rules.list_rules(
            session, admin, rules.RuleFilter(category="feeling-unsafe", status="all")
        ):
            form = rules.form_from_rule(rule)
            if rule.role.value == "owner" and rule.partner.slug == "lewisham-asb":
                form.update(partner="lewisham-community-safety", why="Benchmark: restore")
                rules.edit_rule(session, admin, rule.id, form)
            elif rule.reason == "badly-lit" and not rule.active:
                rules.set_active(session, admin, rule.id, active=True, why="Restore")
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100,000 reports, 3 repetitions")
    args = parser.parse_args()
    if args.quick:
        args.reports, args.repeat = min(args.reports, 100_000), min(args.repeat, 3)
        args.sample = min(args.sample, 2000)

    results = Results(
        "reroute",
        "Re-routing stored reports after a rule change",
        f"{args.reports:,} stored routed reports. An admin's rule change (feeling unsafe moves "
        "to a new owner; the badly-lit rule is switched off), then `reroute_open_reports` "
        "re-routes every open report set-based in PostgreSQL, recording each move; undone "
        "between repetitions. Baseline: the worker's batched path (`processing."
        f"process_reports`, batches of 100, routing data kept between batches) on {args.sample:,} "
        "sampled reports set back to received, rolled back, timed per report and multiplied by "
        "the number of reports considered: an extrapolation, measured once per repetition.",
        args,
    )
    engine = ensure_database()
    factory = make_session_factory(engine)
    admin_id = bench_admin(factory)
    restore_rules(factory, admin_id)
    made = ensure_reports(engine, args.reports)
    if made is not None:
        results.note(f"{args.reports:,} reports made set-based in {made:.1f} s.")

    first, summary = timed_reroute(factory, None, "Benchmark: first routing")
    if summary.changed:
        results.add(f"first routing of every report ({summary.changed:,} changed)", [first], "s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE report, report_notified_partner"))
    same, summary = timed_reroute(factory, None, "Benchmark: no change")
    results.add(f"re-evaluating with unchanged rules ({summary.changed:,} changed)", [same], "s")

    changed_runs: list[float] = []
    baseline_runs: list[float] = []
    for _ in range(args.repeat):
        change_rules(factory, admin_id)
        with factory() as session:
            admin = session.get(User, admin_id)
            seconds, summary = timed_reroute(factory, admin, "Benchmark: feeling unsafe moves")
        changed_runs.append(seconds)
        restore_rules(factory, admin_id)
        timed_reroute(factory, None, "Benchmark: restore")
        baseline_runs.append(worker_batches_per_report(factory, args.sample) * summary.considered)
        print(f"  re-routed in {seconds:.1f} s; baseline {baseline_runs[-1]:.0f} s", flush=True)
    results.add(
        f"re-routing after the rule change ({summary.changed:,} of {summary.considered:,} "
        f"changed, {summary.owner_changed:,} new owners)",
        changed_runs,
        "s",
        baseline=Baseline(
            f"the worker's batched path, {args.sample:,} sampled, extrapolated", baseline_runs
        ),
        target=f"< {TARGET_SECONDS:.0f} s for 1,000,000 reports",
        met=(max(changed_runs) < TARGET_SECONDS) if summary.considered >= 1_000_000 else None,
    )
    results.save()


if __name__ == "__main__":
    main()
