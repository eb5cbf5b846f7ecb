"""Bulk re-routing of a million stored reports after a rule change, against one-by-one routing.

Run: .venv/bin/python -m bench.bench_reroute [--reports 1000000] [--sample 1000]

Uses the shared scratch database (safer_streets_bench_routing; see bench/shared_database.py),
filled set-based with generate_series. Steps, each timed:

1. the first routing of every stored report (every report changes: owner, notified, history);
2. re-evaluating all of them with unchanged rules (nothing changes: the pure evaluation cost);
3. an admin's rule change (feeling unsafe moves to a new owner, and the badly-lit rule is
   deactivated), then re-routing: the target is under 15 s for 1,000,000 reports.

Baseline, measured in the same run: routing one report at a time through
``processing.route_report`` (reverse geocode, ward, areas, rules, decide, write), the path a
partner's "locate" takes, on a sample of reports, rolled back, extrapolated to all of them.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from sqlalchemy import select, text

from bench.machine import description
from bench.shared_database import database_url, ensure_database, ensure_reports
from safer_streets.db import make_session_factory
from safer_streets.models import Report, Role, User
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


def one_by_one_per_report(factory, sample: int) -> float:
    """Seconds per report for the worker's routing path, on a random sample, rolled back."""
    with factory() as session:
        ids = session.scalars(select(Report.id).where(Report.source == "bench")).all()
        chosen = random.Random(7).sample(list(ids), min(sample, len(ids)))
        wards = load_ward_index(session)
        places = Places.default()
        timings = []
        for report_id in chosen:
            started = time.perf_counter()
            report = session.get(Report, report_id)
            processing.route_report(session, report, wards, places)
            timings.append(time.perf_counter() - started)
        session.rollback()
    return statistics.mean(timings)


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
    parser.add_argument("--sample", type=int, default=1000)
    args = parser.parse_args()

    print("Safer Streets bulk re-routing benchmark")
    print(f"machine: {description()}")
    print(f"database: {database_url()}")
    engine = ensure_database()
    factory = make_session_factory(engine)
    admin_id = bench_admin(factory)
    restore_rules(factory, admin_id)
    made = ensure_reports(engine, args.reports)
    if made is not None:
        print(f"made {args.reports:,} reports set-based in {made:.1f} s")

    first, summary = timed_reroute(factory, None, "Benchmark: first routing")
    print(
        f"1. first routing of every report: {first:.1f} s "
        f"({summary.changed:,} of {summary.considered:,} changed)"
    )
    if summary.changed == 0:
        print("   (already routed by an earlier run)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE report, report_notified_partner"))

    same, summary = timed_reroute(factory, None, "Benchmark: no change")
    print(
        f"2. re-evaluating with unchanged rules: {same:.1f} s "
        f"({summary.changed:,} of {summary.considered:,} changed)"
    )

    change_rules(factory, admin_id)
    with factory() as session:
        admin = session.get(User, admin_id)
        changed, summary = timed_reroute(factory, admin, "Benchmark: feeling unsafe moves")
    print(
        f"3. after the rule change: {changed:.1f} s "
        f"({summary.changed:,} of {summary.considered:,} changed; "
        f"{summary.owner_changed:,} new owners)"
    )
    restore_rules(factory, admin_id)
    restored, _ = timed_reroute(factory, None, "Benchmark: restore")

    per_report = one_by_one_per_report(factory, args.sample)
    baseline = per_report * summary.considered
    print()
    print(
        f"baseline (one report at a time, processing.route_report, {args.sample} sampled): "
        f"{per_report * 1000:.2f} ms per report -> {baseline:.0f} s for "
        f"{summary.considered:,} reports"
    )
    print(f"set-based after a rule change: {changed:.1f} s -> {baseline / changed:.0f}x faster")
    print(
        f"target: under {TARGET_SECONDS:.0f} s for 1,000,000 reports: "
        f"{'met' if changed < TARGET_SECONDS and summary.considered >= 1_000_000 else 'NOT met'}"
    )
    print(f"(restoring the seeded rules re-routed them back in {restored:.1f} s)")


if __name__ == "__main__":
    main()
