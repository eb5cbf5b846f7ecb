"""The geometry of the board's charts: bars, lines and their axes in SVG user units.

The templates draw these as inline SVG (``templates/board/charts.html``): no script and no
style attribute, so the charts work under the site's Content-Security-Policy, print in the
board pack and need no charting library. Nothing here knows about Flask or the database;
callers pass plain numbers, and every chart is drawn beside a table of the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Bar",
    "BarChart",
    "BarRow",
    "LineChart",
    "Series",
    "Tick",
    "TrendFigure",
    "bar_chart",
    "line_chart",
    "nice_ticks",
    "partner_charts",
    "reason_chart",
    "trend_figures",
]

# Marks take colours from the board's schemes: ColorBrewer Purples for counts, YlOrBr
# orange for daylight against dark purple for after dark.
THIS_PERIOD = "#54278f"
PREVIOUS_PERIOD = "#9e9ac8"
DAYLIGHT = "#fe9929"


@dataclass(frozen=True)
class Series:
    """One set of values drawn in one colour (and, for lines, solid or dashed)."""

    name: str
    colour: str
    dashed: bool = False


@dataclass(frozen=True)
class Tick:
    """A gridline or axis label at ``at`` (SVG units along its axis)."""

    at: float
    label: str


@dataclass(frozen=True)
class Bar:
    """One horizontal bar; ``text`` is the value as shown at its end."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    text: str


@dataclass(frozen=True)
class BarRow:
    """One category of a bar chart: its label (baseline at ``label_y``, above) and bars."""

    label: str
    label_y: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one group per row, on a shared axis starting at zero."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    rows: tuple[BarRow, ...]
    ticks: tuple[Tick, ...]
    series: tuple[Series, ...]
    unit: str

    @property
    def has_values(self) -> bool:
        """Whether any bar has a value (a chart of nothing but "—" is not worth drawing)."""
        return any(bar.text != "—" for row in self.rows for bar in row.bars)

    def table(self) -> list[tuple[str, ...]]:
        """The chart's numbers as table rows: the label, then each series' value."""
        return [(row.label, *(bar.text for bar in row.bars)) for row in self.rows]


@dataclass(frozen=True)
class LineChart:
    """Lines over equally spaced x labels; ``segments`` skip values that are withheld."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    lines: tuple[tuple[Series, tuple[str, ...]], ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    unit: str


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round axis values from 0 to at least ``maximum``: steps of 1, 2, 2.5 or 5 × 10ⁿ."""
    if not maximum > 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    top = math.ceil(maximum / step - 1e-9) * step
    return [round(i * step, 10) for i in range(round(top / step) + 1)]


def _label(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.1f}"


def bar_chart(
    rows: Sequence[tuple[str, Sequence[float | None]]],
    series: Sequence[Series],
    *,
    unit: str,
    width: float = 420,
    bar_height: float = 14,
    gap: float = 10,
    decimals: int = 0,
) -> BarChart:
    """Grouped horizontal bars: for each row, one bar per series (None: no bar, "—").

    Each row's label is written above its bars rather than beside them, so that long partner
    names need no cutting and the bars keep the whole width on a phone.

    Parameters
    ----------
    rows : sequence of (label, values)
        ``values`` has one entry per series.
    series : sequence of Series
    unit : str
        What the axis counts, shown under it.
    width, bar_height, gap : float
        Sizes in SVG units; the chart scales to its box, so these set proportions.
    decimals : int
        Decimals of the values written at the bars' ends.
    """
    label_height = 17.0
    left, right, top = 10.0, width - 44, 4.0
    group = label_height + bar_height * len(series) + gap
    bottom = top + group * len(rows)
    finite = [v for _, values in rows for v in values if v is not None]
    ticks = nice_ticks(max(finite, default=0.0))
    scale = (right - left) / ticks[-1]
    out_rows = []
    for index, (label, values) in enumerate(rows):
        y0 = top + index * group + label_height
        bars = tuple(
            Bar(
                x=left,
                y=y0 + k * bar_height,
                width=0.0 if value is None else value * scale,
                height=bar_height - 2,
                colour=s.colour,
                text="—" if value is None else f"{value:,.{decimals}f}",
            )
            for k, (s, value) in enumerate(zip(series, values, strict=True))
        )
        out_rows.append(BarRow(label, y0 - 5, bars))
    return BarChart(
        width=width,
        height=bottom + 34,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        rows=tuple(out_rows),
        ticks=tuple(Tick(left + t * scale, _label(t)) for t in ticks),
        series=tuple(series),
        unit=unit,
    )


def line_chart(
    x_labels: Sequence[str],
    lines: Sequence[tuple[Series, Sequence[float | None]]],
    *,
    unit: str,
    width: float = 360,
    height: float = 170,
) -> LineChart:
    """Lines over equally spaced x labels, from a y axis starting at zero.

    A None (a withheld count) breaks its line rather than drawing it as zero. Every other
    x label is written when there are more than seven, so they do not collide.
    """
    left, right, top, bottom = 40.0, width - 20, 8.0, height - 26
    n = len(x_labels)
    step = (right - left) / max(n - 1, 1)
    finite = [v for _, values in lines for v in values if v is not None]
    ticks = nice_ticks(max(finite, default=0.0))
    scale = (bottom - top) / ticks[-1]

    def segments(values: Sequence[float | None]) -> tuple[str, ...]:
        out, current = [], []
        for i, value in enumerate(values):
            if value is None:
                if current:
                    out.append(" ".join(current))
                current = []
                continue
            current.append(f"{left + i * step:.1f},{bottom - value * scale:.1f}")
        if current:
            out.append(" ".join(current))
        return tuple(out)

    every = 1 if n <= 7 else 2
    return LineChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        lines=tuple((s, segments(values)) for s, values in lines),
        x_ticks=tuple(
            Tick(left + i * step, label) for i, label in enumerate(x_labels) if i % every == 0
        ),
        y_ticks=tuple(Tick(bottom - t * scale, _label(t)) for t in ticks),
        unit=unit,
    )


@dataclass(frozen=True)
class TrendFigure:
    """One category's months this period against the same months a period earlier."""

    name: str
    months: tuple[str, ...]
    current: tuple[int | None, ...]
    previous: tuple[int | None, ...]
    chart: LineChart


def trend_figures(
    months: Sequence[str],
    trends: Sequence[tuple[str, Sequence[int | None], Sequence[int | None]]],
) -> list[TrendFigure]:
    """A small line chart per category with any reports in either period.

    ``trends`` holds (name, counts this period, counts the period before), month by month;
    the earlier period is cut or padded to the same number of months, since a period that
    starts mid-month can touch one month more or less.
    """
    figures = []
    for name, current, previous in trends:
        padding = [None] * max(len(months) - len(previous), 0)
        before = (padding + list(previous))[-len(months) :] if months else []
        if not any(current) and not any(before):
            continue
        chart = line_chart(
            months,
            [
                (Series("Previous period", PREVIOUS_PERIOD, dashed=True), before),
                (Series("This period", THIS_PERIOD), list(current)),
            ],
            unit="reports a month",
        )
        figures.append(TrendFigure(name, tuple(months), tuple(current), tuple(before), chart))
    return figures


def partner_charts(
    rows: Sequence[tuple[str, float | None, float | None, int, int]],
) -> dict[str, BarChart]:
    """Bars of partner performance from (partner, median hours to acknowledge, median days
    to resolve, acknowledge breaches, resolve breaches): one chart per unit."""
    return {
        "acknowledge": bar_chart(
            [(name, [ack]) for name, ack, _, _, _ in rows],
            [Series("Median hours to acknowledge", THIS_PERIOD)],
            unit="hours, median, to acknowledge",
        ),
        "resolve": bar_chart(
            [(name, [res]) for name, _, res, _, _ in rows],
            [Series("Median days to resolve", THIS_PERIOD)],
            unit="days, median, to resolve",
            decimals=1,
        ),
        "breaches": bar_chart(
            [(name, [ack, res]) for name, _, _, ack, res in rows],
            [
                Series("Acknowledged late", THIS_PERIOD),
                Series("Resolved late", DAYLIGHT),
            ],
            unit="reports past their due time",
        ),
    }


def reason_chart(rows: Sequence[tuple[str, int, int]]) -> BarChart:
    """Bars of StreetSafe reasons from (reason, people after dark, people in daylight)."""
    return bar_chart(
        [(reason, [dark, light]) for reason, dark, light in rows],
        [Series("After dark", THIS_PERIOD), Series("In daylight", DAYLIGHT)],
        unit="people giving the reason: who reported or added their voice",
    )
