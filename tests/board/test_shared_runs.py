"""Runs computed together from one fetch of their period's reports store what each run
computed alone stores."""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from geo import projection
from geo.suntimes import LONDON
from safer_streets.board import runs
from safer_streets.board.filters import DEMO_SOURCE, TimeOfDay, default_filters
from safer_streets.models import HotspotCell, HotspotRun, Report, ReportStatus, ReportSupport
from tests.board_data import CATFORD, add_reports, around, scattered

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
STUDY_AREA = projection.read_boundary()


def _mixed_reports(session) -> None:
    dark = NOW.astimezone(LONDON).replace(hour=23, minute=0) - timedelta(days=3)
    day = NOW.astimezone(LONDON).replace(hour=12, minute=0) - timedelta(days=40)
    unsafe = add_reports(session, "feeling-unsafe", around(CATFORD, 30), when=dark)
    unsafe += add_reports(session, "feeling-unsafe", scattered(20, seed=3), when=day)
    session.execute(
        update(Report).where(Report.id.in_(unsafe[::2])).values(reasons=["badly-lit", "isolated"])
    )
    session.execute(update(Report).where(Report.id.in_(unsafe[1::3])).values(reasons=["other"]))
    add_reports(session, "fly-tipping", scattered(60), when=day)
    add_reports(session, "fly-tipping", scattered(25, seed=4), when=NOW - timedelta(days=500))
    add_reports(session, "drug-dealing", around(CATFORD, 15, seed=5), when=dark)
    add_reports(session, "graffiti-vandalism", scattered(10, seed=6), when=dark, source="test")
    add_reports(
        session, "fly-tipping", scattered(5, seed=8), when=day, status=ReportStatus.DUPLICATE
    )
    demo = add_reports(session, "feeling-unsafe", scattered(30, seed=9), when=dark, source="demo")
    session.execute(update(Report).where(Report.id.in_(demo[:10])).values(reasons=["isolated"]))
    # People who added their voice, with reasons and a time of their own.
    for k, report_id in enumerate([*unsafe[:12], *demo[:3]]):
        session.add(
            ReportSupport(
                report_id=report_id,
                key_hash=f"{k:064d}",
                reasons=["followed"] if k % 3 else ["badly-lit"],
                after_dark=k % 2 == 0,
            )
        )
    session.flush()


def _stored(session, run_id: int) -> tuple[dict, list[tuple]]:
    run = session.get(HotspotRun, run_id)
    summary = dict(run.summary)
    summary["data"] = {k: v for k, v in summary["data"].items() if k != "data_ends"}
    cells = session.execute(
        select(
            HotspotCell.iy,
            HotspotCell.ix,
            HotspotCell.cell,
            HotspotCell.count,
            HotspotCell.z,
            HotspotCell.p,
            HotspotCell.p_sim,
            HotspotCell.q,
            HotspotCell.gi_bin,
            HotspotCell.label,
            HotspotCell.density,
            HotspotCell.emerging,
        )
        .where(HotspotCell.run_id == run_id)
        .order_by(HotspotCell.iy, HotspotCell.ix)
    ).all()
    return summary, [tuple(str(v) if k == 2 else v for k, v in enumerate(c)) for c in cells]


def _same_cells(left: list[tuple], right: list[tuple]) -> bool:
    """The same cells with the same figures. Floats may differ in the last bit: PostgreSQL
    returns the points of one run alone and of the shared fetch in whichever order its plan
    reads them, and sums in another order round differently."""
    return len(left) == len(right) and all(
        len(a) == len(b)
        and all(
            math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-15) if isinstance(x, float) else x == y
            for x, y in zip(a, b, strict=True)
        )
        for a, b in zip(left, right, strict=True)
    )


def test_runs_computed_from_one_fetch_store_what_each_computed_alone_stores(db_session):
    _mixed_reports(db_session)
    base = default_filters(TODAY)
    dark = replace(base, time_of_day=TimeOfDay.AFTER_DARK)
    wanted = [
        base,
        dark,
        replace(base, time_of_day=TimeOfDay.DAYLIGHT),
        replace(base, category="fly-tipping"),
        replace(dark, category="feeling-unsafe"),
        replace(dark, source=DEMO_SOURCE),
        replace(base, source="test"),
        # Not covered by the fetch (hours, another period): computed alone as before.
        replace(base, time_of_day=TimeOfDay.EVENING),
        replace(base, date_from=base.date_from + timedelta(days=30)),
    ]

    def create(filters) -> int:
        parameters = runs.RunParameters.from_filters(filters, permutations=99, seed=3)
        return runs.create_run(db_session, parameters).id

    alone = [create(f) for f in wanted]
    for run_id in alone:
        assert runs.compute_run(db_session, run_id, study_area=STUDY_AREA)
    together = [create(f) for f in wanted]
    computed = runs.compute_runs(lambda: nullcontext(db_session), together, study_area=STUDY_AREA)
    assert computed == len(wanted)
    for a, b in zip(alone, together, strict=True):
        summary_a, cells_a = _stored(db_session, a)
        summary_b, cells_b = _stored(db_session, b)
        assert summary_a == summary_b
        assert _same_cells(cells_a, cells_b)
    # The fixture reaches every branch: reasons, after dark, demo and test reports.
    first = db_session.get(HotspotRun, alone[0]).summary
    assert first["n_points"] > 0 and first["previous_period"]["n_points"] == 25
    assert {r["reason"] for r in first["reasons"]} == {"badly-lit", "isolated", "other", "followed"}
    assert db_session.get(HotspotRun, alone[5]).summary["reasons"][0]["reports"] == 10
    assert db_session.get(HotspotRun, alone[6]).summary["n_points"] == 10


def test_a_run_already_done_is_left_alone_by_the_batch(db_session):
    _mixed_reports(db_session)
    parameters = runs.RunParameters.from_filters(default_filters(TODAY), permutations=0, seed=1)
    run_id = runs.create_run(db_session, parameters).id
    assert runs.compute_run(db_session, run_id, study_area=STUDY_AREA)
    sessions = lambda: nullcontext(db_session)  # noqa: E731
    assert runs.compute_runs(sessions, [run_id], study_area=STUDY_AREA) == 0
