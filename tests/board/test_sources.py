"""Where reports came from: the board leaves demo and test reports out unless asked."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from geo.suntimes import LONDON
from safer_streets.accounts import users
from safer_streets.board import runs
from safer_streets.board.filters import ALL_SOURCES, default_filters, parse_filters
from safer_streets.board.query import filter_conditions
from safer_streets.errors import InvalidInput
from safer_streets.models import Category, Report, Role
from tests.board.test_board import STUDY_AREA
from tests.board_data import CATFORD, add_reports, around, scattered
from tests.helpers import PASSWORD, PASSWORDS, login

TODAY = datetime.now(UTC).astimezone(LONDON).date()


@pytest.fixture
def mixed(db_session):
    add_reports(db_session, "fly-tipping", scattered(30), source="web")
    add_reports(db_session, "fly-tipping", scattered(20, seed=2), source="api")
    add_reports(db_session, "fly-tipping", around(CATFORD, 40), source="demo")
    add_reports(db_session, "fly-tipping", scattered(5, seed=3), source="test")
    return db_session


def count(session, filters) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Report)
        .join(Category, Category.id == Report.category_id)
        .where(*filter_conditions(session, filters))
    )


def test_demo_and_test_reports_are_left_out_unless_asked_for(mixed):
    base = default_filters(TODAY)
    assert count(mixed, base) == 50
    assert count(mixed, replace(base, source="demo")) == 40
    assert count(mixed, replace(base, source="api")) == 20
    assert count(mixed, replace(base, source=ALL_SOURCES)) == 95


def test_runs_follow_the_source_and_are_kept_apart_by_it(mixed):
    base = default_filters(TODAY)
    default_run = runs.create_run(
        mixed, runs.RunParameters.from_filters(base, permutations=0, seed=1)
    )
    demo = replace(base, source="demo")
    demo_run = runs.create_run(mixed, runs.RunParameters.from_filters(demo, permutations=0, seed=1))
    assert runs.compute_run(mixed, default_run.id, study_area=STUDY_AREA)
    assert runs.compute_run(mixed, demo_run.id, study_area=STUDY_AREA)
    assert default_run.summary["n_points"] == 50
    assert demo_run.summary["n_points"] == 40
    assert runs.latest_run(mixed, base).id == default_run.id
    assert runs.latest_run(mixed, demo).id == demo_run.id


def _parse(args):
    return parse_filters(args, today=date(2026, 6, 1), categories=[], wards=[], areas=[])


@given(st.sampled_from(["web", "api", "open311", "import", "demo", "test", "phone", "all"]))
def test_a_source_round_trips_through_the_url(source):
    filters = _parse({"source": source})
    assert filters.source == source
    assert _parse(filters.query_args()) == filters


@given(st.text(max_size=30).filter(lambda s: s.strip() and s.strip() != ALL_SOURCES))
def test_a_malformed_source_is_named(raw):
    try:
        filters = _parse({"source": raw})
    except InvalidInput as invalid:
        assert "source" in invalid.field_errors
    else:
        assert filters.source == raw.strip()
        assert filters.source[0].isalpha() and len(filters.source) <= 20


def test_the_board_offers_and_accepts_the_source_filter(app, mixed):
    users.create_user(
        mixed,
        passwords=PASSWORDS,
        email="board.sources@board.test",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )
    client = app.test_client()
    login(client, "board.sources@board.test")
    page = client.get("/board")
    assert page.status_code == 200
    assert 'name="source"' in page.text and "Demo data" in page.text
    assert client.get("/board?source=demo").status_code == 200
    bad = client.get("/board?source=Not%20a%20source")
    assert "Source: unknown source" in bad.text
    rows = client.get("/board/reports.csv?source=demo").text.strip().splitlines()
    assert len(rows) == 1 + 40


def test_the_board_says_how_many_demo_and_test_reports_it_leaves_out(app, mixed):
    users.create_user(
        mixed,
        passwords=PASSWORDS,
        email="board.left-out@board.test",
        password=PASSWORD,
        role=Role.BOARD,
        partner_slug=None,
    )
    client = app.test_client()
    login(client, "board.left-out@board.test")
    page = client.get("/board/trends")
    assert "45 demo or test reports are left out of these figures" in page.text
    assert re.search(r'href="/board/trends\?[^"]*source=all"', page.text)
    assert "left out of these figures" not in client.get("/board/trends?source=all").text


def test_no_source_means_the_default_url_is_unchanged():
    assert "source" not in default_filters(TODAY).query_args()
