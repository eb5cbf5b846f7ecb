"""The previous period, the nightly questions and what each run records about its data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from geo import projection
from geo.suntimes import LONDON
from safer_streets.board import dashboard, runs
from safer_streets.board.filters import TimeOfDay, default_filters
from safer_streets.models import HotspotRun, Report, Role, User
from tests.board_data import CATFORD, add_reports, around, scattered

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
STUDY_AREA = projection.read_boundary()


def _reports_this_year_and_last(session) -> None:
    add_reports(session, "fly-tipping", scattered(12), when=NOW - timedelta(days=20))
    add_reports(session, "fly-tipping", scattered(8, seed=4), when=NOW - timedelta(days=500))
    add_reports(session, "graffiti-vandalism", scattered(3, seed=5), when=NOW - timedelta(days=400))


def test_reports_of_the_previous_twelve_months_are_counted_as_the_previous_period(db_session):
    # "Previous period 0 / new" on every row was the demo data, which only covered the last
    # twelve months; with reports in both periods the comparison is computed.
    _reports_this_year_and_last(db_session)
    board = User(email="prev@board.test", role=Role.BOARD, password_hash="x")
    view = dashboard.overview(
        db_session, board, default_filters(TODAY), min_count=5, point_limit=50_000
    )
    assert view.total.value == 12
    assert view.previous_total.value == 11
    rows = {c.slug: c for c in view.categories}
    assert (rows["fly-tipping"].current.value, rows["fly-tipping"].previous.value) == (12, 8)
    assert rows["fly-tipping"].change == "+50%"
    assert rows["graffiti-vandalism"].change == "-100%"


def test_a_run_records_when_its_data_ends_and_its_previous_period(db_session):
    _reports_this_year_and_last(db_session)
    parameters = runs.RunParameters.from_filters(default_filters(TODAY), permutations=0, seed=1)
    run = runs.create_run(db_session, parameters)
    before = datetime.now(UTC)
    assert runs.compute_run(db_session, run.id, study_area=STUDY_AREA)
    data = run.summary["data"]
    assert data["period_from"] == parameters.date_from
    assert before <= datetime.fromisoformat(data["data_ends"]) <= run.computed_at
    last = datetime.fromisoformat(data["last_report"])
    assert abs(last - (NOW - timedelta(days=20))) < timedelta(seconds=1)
    previous = run.summary["previous_period"]
    assert previous["n_points"] == 11
    assert previous["to"] < parameters.date_from
    # Reports sent after the run are not in it.
    add_reports(db_session, "fly-tipping", scattered(5, seed=9), when=NOW)
    assert run.summary["n_points"] == 12


def test_the_nightly_runs_answer_the_partnerships_questions(db_session):
    wanted = runs.nightly_filters(db_session, TODAY)
    asked = {(f.category, f.time_of_day, f.source) for f in wanted}
    assert (None, TimeOfDay.ANY, None) in asked
    assert (None, TimeOfDay.AFTER_DARK, None) in asked
    assert ("feeling-unsafe", TimeOfDay.AFTER_DARK, None) in asked
    assert ("fly-tipping", TimeOfDay.ANY, None) in asked
    assert ("fly-tipping", TimeOfDay.AFTER_DARK, None) not in asked
    assert len(wanted) == 20
    # Feeling unsafe after dark in Catford is one click: the nightly run, zoomed.
    ids = runs.schedule_nightly_runs(db_session, today=TODAY, permutations=0, seed=1)
    catford = replace(
        default_filters(TODAY),
        category="feeling-unsafe",
        time_of_day=TimeOfDay.AFTER_DARK,
        area="catford-town-centre",
    )
    run_id = next(
        i
        for i in ids
        if runs.parameters_key(catford.run_filters())
        == db_session.get(HotspotRun, i).parameters_key
    )
    assert runs.compute_run(db_session, run_id, study_area=STUDY_AREA)
    assert runs.latest_run(db_session, catford).id == run_id
    # Demo reports get the same questions, kept apart.
    add_reports(db_session, "fly-tipping", scattered(3), source="demo")
    with_demo = runs.nightly_filters(db_session, TODAY)
    assert len(with_demo) == 40
    assert {f.source for f in with_demo} == {None, "demo"}


def test_a_run_counts_why_people_feel_unsafe_after_dark_and_in_town_centres(db_session):
    dark = NOW.astimezone(LONDON).replace(hour=23, minute=0) - timedelta(days=3)
    ids = add_reports(db_session, "feeling-unsafe", around(CATFORD, 4), when=dark)
    ids += add_reports(db_session, "feeling-unsafe", scattered(3, seed=7), when=dark)
    db_session.execute(
        update(Report).where(Report.id.in_(ids[:4])).values(reasons=["badly-lit", "isolated"])
    )
    db_session.execute(update(Report).where(Report.id.in_(ids[4:])).values(reasons=["badly-lit"]))
    parameters = runs.RunParameters.from_filters(
        replace(default_filters(TODAY), category="feeling-unsafe"), permutations=0, seed=1
    )
    run = runs.create_run(db_session, parameters)
    assert runs.compute_run(db_session, run.id, study_area=STUDY_AREA)
    reasons = {r["reason"]: r for r in run.summary["reasons"]}
    assert reasons["badly-lit"]["reports"] == 7
    assert reasons["badly-lit"]["after_dark"] == 7
    assert reasons["badly-lit"]["daylight"] == 0
    assert reasons["isolated"]["town_centres"] == {
        "catford-town-centre": 4,
        "lewisham-town-centre": 0,
    }
