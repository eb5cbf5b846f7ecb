"""Reports per 1,000 residents per ward for the board's filters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from geo.suntimes import LONDON
from safer_streets.board import rates
from safer_streets.board.audience import Audience
from safer_streets.board.filters import default_filters
from tests.board_data import CATFORD, add_reports, around, scattered

TODAY = datetime.now(UTC).astimezone(LONDON).date()


@pytest.fixture
def reports(db_session):
    add_reports(db_session, "fly-tipping", scattered(200), owner="lewisham-environment")
    add_reports(db_session, "fly-tipping", around(CATFORD, 50), owner="lewisham-environment")
    add_reports(db_session, "harassment", around(CATFORD, 2, seed=5), owner="met-snt-rushey-green")
    return db_session


def test_ward_rates_add_up_to_the_borough_rate(reports):
    result = rates.ward_rates(reports, default_filters(TODAY), audience=Audience.BOARD, min_count=5)
    assert len(result.wards) == 19
    assert result.residents == 275_885
    assert result.reports + result.not_in_a_ward == 252
    assert result.borough_rate == pytest.approx(1000 * result.reports / result.residents)
    weighted = sum(w.rate * w.residents for w in result.wards) / result.residents
    assert weighted == pytest.approx(result.borough_rate)
    rushey = next(w for w in result.wards if w.name == "Rushey Green")
    assert rushey.rate == pytest.approx(1000 * rushey.reports / rushey.residents)
    # The busiest ward is pulled towards the borough rate, never past it.
    assert result.borough_rate < rushey.smoothed <= rushey.rate


def test_ward_rates_follow_the_category_filter_and_ignore_ward_and_area(reports):
    base = default_filters(TODAY)
    harassment = rates.ward_rates(
        reports, replace(base, category="harassment"), audience=Audience.BOARD, min_count=5
    )
    assert harassment.reports == 2
    zoomed = rates.ward_rates(
        reports, replace(base, ward="bellingham"), audience=Audience.BOARD, min_count=5
    )
    assert zoomed.reports + zoomed.not_in_a_ward == 252


def test_ward_rates_never_reveal_a_withheld_sensitive_count(reports):
    board = rates.ward_rates(reports, default_filters(TODAY), audience=Audience.BOARD, min_count=5)
    partner = rates.ward_rates(
        reports, default_filters(TODAY), audience=Audience.PARTNER, min_count=5
    )
    by_name = {w.name: w for w in partner.wards}
    assert by_name["Rushey Green"].partial
    assert board.reports - partner.reports == 2
    assert not any(w.partial for w in board.wards)


def test_the_caveats_say_what_the_denominator_is():
    assert "town centres" in rates.TOWN_CENTRE_CAVEAT and "visitors" in rates.TOWN_CENTRE_CAVEAT
    assert "2011 Census" in rates.DENOMINATOR_CAVEAT
