"""The board's pages count the reports in as few passes as they can; the counts are the ones
each separate query gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from geo.suntimes import LONDON
from safer_streets.board import dashboard, query, rates
from safer_streets.board.audience import Audience
from safer_streets.board.filters import ALL_SOURCES, DEMO_SOURCE, TimeOfDay, default_filters
from safer_streets.models import ReportStatus, Role, User
from tests.board_data import CATFORD, add_reports, around, scattered

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
BASE = default_filters(TODAY)
FILTERS = [
    BASE,
    replace(BASE, category="fly-tipping"),
    replace(BASE, time_of_day=TimeOfDay.AFTER_DARK),
    replace(BASE, ward="rushey-green"),
    replace(BASE, area="catford-town-centre"),
    replace(BASE, source=DEMO_SOURCE),
    replace(BASE, source=ALL_SOURCES),
]


@pytest.fixture
def mixed(db_session):
    add_reports(db_session, "fly-tipping", scattered(30), source="web")
    add_reports(db_session, "fly-tipping", scattered(12, seed=4), when=NOW - timedelta(days=400))
    add_reports(db_session, "drug-dealing", around(CATFORD, 25), source="web")
    add_reports(db_session, "harassment", around(CATFORD, 3, seed=6), source="web")
    add_reports(db_session, "fly-tipping", around(CATFORD, 40), source="demo")
    add_reports(db_session, "graffiti-vandalism", scattered(5, seed=3), source="test")
    add_reports(db_session, "fly-tipping", scattered(4, seed=5), status=ReportStatus.DUPLICATE)
    return db_session


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.query_args()))
def test_the_overview_counts_what_is_left_out_as_the_separate_count_does(mixed, filters):
    board = User(email="one@board.test", role=Role.BOARD, password_hash="x")
    view = dashboard.overview(mixed, board, filters, min_count=5, point_limit=50_000)
    assert view.left_out == query.left_out_sources(mixed, filters)
    assert view.point_count == dashboard.count_points(mixed, filters)


def test_the_fixture_leaves_demo_and_test_reports_out_by_default(mixed):
    assert query.left_out_sources(mixed, BASE) == 45


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.query_args()))
def test_counts_handed_on_give_the_map_what_counting_again_gives(mixed, filters):
    counts = dashboard.ward_category_counts(mixed, filters)
    assert dashboard.count_from(counts) == dashboard.count_points(mixed, filters)
    if filters.ward or filters.area:
        return
    for audience in (Audience.BOARD, Audience.PARTNER):
        again = rates.ward_rates(mixed, filters, audience=audience, min_count=5)
        handed = rates.ward_rates(mixed, filters, audience=audience, min_count=5, counts=counts)
        assert handed == again
