"""Reports typed as a street are spread over the street's cells in a hot-spot run, so twenty
of them no longer make one false hot cell at the street's gazetteer point."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from safer_streets.board import runs
from safer_streets.board.filters import default_filters
from safer_streets.intake.submission import parse_submission, submit_report
from safer_streets.models import HotspotCell
from safer_streets.routing import processing
from tests.board.test_board import STUDY_AREA, TODAY
from tests.board_data import add_reports, scattered


def typed_reports(session, wards, places, text, n):
    ids = []
    for _ in range(n):
        submission = parse_submission(
            {"category": "fly-tipping", "description": "Bags dumped", "location_text": text}
        )
        report, _ = submit_report(session, submission, places=places)
        ids.append(report.id)
    processing.process_reports(session, ids, wards, places)
    return ids


def stored_counts(session, run):
    return dict(
        session.execute(
            select(HotspotCell.iy * 10_000 + HotspotCell.ix, HotspotCell.count).where(
                HotspotCell.run_id == run.id, HotspotCell.count > 0
            )
        ).all()
    )


def compute(session, shared=False):
    chosen = replace(default_filters(TODAY), category="fly-tipping")
    run = runs.create_run(session, runs.RunParameters.from_filters(chosen, permutations=99, seed=7))
    parameters = runs.RunParameters(**run.parameters)
    points = (
        runs.fetch_shared_points(
            session,
            *(parameters.filters().date_from, parameters.filters().date_to),
        )
        if shared
        else None
    )
    assert runs.compute_run(session, run.id, study_area=STUDY_AREA, shared=points)
    return run


def test_twenty_typed_catford_broadway_reports_no_longer_make_one_hot_cell(
    db_session, wards, places
):
    add_reports(db_session, "fly-tipping", scattered(150), owner="lewisham-environment")
    before = sum(stored_counts(db_session, compute(db_session)).values())
    [broadway] = places.gazetteer.search("Catford Broadway", limit=1)
    typed_reports(db_session, wards, places, "Catford Broadway", 20)

    for shared in (False, True):
        run = compute(db_session, shared=shared)
        counts = stored_counts(db_session, run)
        # Twenty reports' worth, to within the rounding of each cell to tenths.
        assert abs(sum(counts.values()) - before - 20) <= 0.5
        assert run.summary["n_points"] == 170
        # Spread over the street's cells, in tenths, stored as they are (never truncated).
        assert max(counts.values()) < 8
        fractional = [c for c in counts.values() if c != int(c)]
        assert len(fractional) >= 4
        assert all(round(c * 10) == c * 10 for c in fractional)
        assert run.summary["statistics"]["count_unit"] == 0.1

    # The same twenty as pins on the gazetteer's point would be one cell of twenty.
    add_reports(db_session, "fly-tipping", [(broadway.lon, broadway.lat)] * 20)
    piled = stored_counts(db_session, compute(db_session))
    assert max(piled.values()) >= 20
