"""Routing a report writes it once, notified partners and all: the triggers that keep
``report.notified_partner_ids`` find it already set by the routing UPDATE."""

from __future__ import annotations

from sqlalchemy import text

from geo.wards import WardIndex
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.places import Places
from safer_streets.routing import processing
from tests.conftest import CATFORD_BROADWAY


def _report_updates(session) -> int:
    return session.scalar(
        text("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'report'")
    )


def test_routing_a_report_with_notified_partners_writes_it_once(db_session, ward_index: WardIndex):
    submission = parse_submission(
        {
            "category": "drug-dealing",
            "lat": CATFORD_BROADWAY[0],
            "lon": CATFORD_BROADWAY[1],
            "description": "Dealing outside the shops",
        }
    )
    report, _ = submit_report(db_session, submission, places=Places.default())
    db_session.flush()
    before = _report_updates(db_session)
    processing.process_reports(db_session, [report.id], ward_index, Places.default())
    db_session.flush()
    assert _report_updates(db_session) - before == 1
    stored = db_session.scalar(
        text("SELECT notified_partner_ids FROM report WHERE id = :id"), {"id": report.id}
    )
    assert stored and stored == sorted(p.id for p in report.notified)
