"""Chart geometry: axes from zero with round ticks, bars in proportion, gaps for withheld
values, and tables holding the same numbers as the marks."""

from __future__ import annotations

import pytest

from safer_streets.board import charts


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [
        (0, [0.0, 1.0]),
        (7, [0, 2, 4, 6, 8]),
        (40, [0, 10, 20, 30, 40]),
        (250, [0, 100, 200, 300]),
        (0.9, [0, 0.25, 0.5, 0.75, 1.0]),
    ],
)
def test_ticks_are_round_and_reach_the_maximum(maximum, expected):
    ticks = charts.nice_ticks(maximum)
    assert ticks == expected
    assert ticks[0] == 0 and ticks[-1] >= maximum


def test_bars_are_in_proportion_to_their_values_from_a_zero_axis():
    chart = charts.bar_chart(
        [("Highways", [10.0]), ("Environment", [40.0]), ("Police", [None])],
        [charts.Series("Median hours", "#54278f")],
        unit="hours",
    )
    highways, environment, police = (row.bars[0] for row in chart.rows)
    assert environment.width == pytest.approx(4 * highways.width)
    assert highways.x == environment.x == chart.left
    # The axis ends on a round tick at or past the longest bar.
    assert chart.ticks[-1].at >= environment.x + environment.width - 1e-9
    assert chart.ticks[0].at == chart.left and chart.ticks[0].label == "0"
    assert police.width == 0 and police.text == "—"
    # Rows never overlap and all sit inside the chart.
    tops = [row.bars[0].y for row in chart.rows]
    assert tops == sorted(tops)
    assert all(b.y + b.height <= chart.bottom for row in chart.rows for b in row.bars)
    assert chart.table() == [("Highways", "10"), ("Environment", "40"), ("Police", "—")]


def test_grouped_bars_give_each_series_its_own_colour_and_column_in_the_table():
    chart = charts.reason_chart([("Badly lit", 12, 3), ("Isolated", 5, 5)])
    assert [s.name for s in chart.series] == ["After dark", "In daylight"]
    lit = chart.rows[0]
    assert lit.bars[0].colour != lit.bars[1].colour
    assert lit.bars[1].y > lit.bars[0].y
    assert chart.table() == [("Badly lit", "12", "3"), ("Isolated", "5", "5")]


def test_a_withheld_month_breaks_the_line_instead_of_dropping_to_zero():
    chart = charts.line_chart(
        ["Jan", "Feb", "Mar", "Apr"],
        [(charts.Series("This period", "#54278f"), [4, None, 6, 8])],
        unit="reports",
    )
    ((_, segments),) = chart.lines
    assert len(segments) == 2
    assert len(segments[0].split()) == 1 and len(segments[1].split()) == 2
    # Higher values are higher up the chart (smaller y), from a zero baseline.
    y = [float(p.split(",")[1]) for p in segments[1].split()]
    assert y[1] < y[0] <= chart.bottom
    assert chart.y_ticks[0].at == chart.bottom and chart.y_ticks[0].label == "0"


def test_trend_figures_pair_months_with_the_period_before_and_skip_empty_categories():
    figures = charts.trend_figures(
        ["Jan", "Feb", "Mar"],
        [
            ("Fly-tipping", [3, 4, 5], [1, 2, 3, 9]),  # the earlier period touched 4 months
            ("Weapons", [0, 0, 0], [0, 0, 0]),
            ("Graffiti", [0, 1, 0], [2]),
        ],
    )
    assert [f.name for f in figures] == ["Fly-tipping", "Graffiti"]
    assert figures[0].previous == (2, 3, 9)
    assert figures[1].previous == (None, None, 2)
    assert [s.name for s, _ in figures[0].chart.lines] == ["Previous period", "This period"]


def test_partner_charts_keep_each_unit_apart():
    made = charts.partner_charts([("Highways", 20.0, 3.5, 2, 1), ("Police", None, 10.0, 0, 4)])
    assert set(made) == {"acknowledge", "resolve", "breaches"}
    assert made["acknowledge"].table() == [("Highways", "20"), ("Police", "—")]
    assert made["resolve"].table() == [("Highways", "3.5"), ("Police", "10.0")]
    assert made["breaches"].table() == [("Highways", "2", "1"), ("Police", "0", "4")]
    nothing = charts.partner_charts([("Police", None, None, 0, 0)])
    assert not nothing["acknowledge"].has_values and nothing["breaches"].has_values
    assert "days" in made["resolve"].unit and "hours" in made["acknowledge"].unit
