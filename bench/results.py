"""The results file every benchmark writes: ``bench/results/<name>.json``.

One file per benchmark, rewritten by each run, so that ``bench/RESULTS.md`` (made from these
files by ``python -m bench.report``) only ever shows figures from one run of the code at a named
commit. A file records where and when it was measured (commit, date, arguments, machine, the
load average before and after: the machine is shared, so figures are noisy) and, for each
measure, every repetition with its min/median/max, the named baseline measured in the same run
and the ratio between the two medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bench.machine import description

CHECKOUT = Path(__file__).resolve().parent.parent
RESULTS_DIR = CHECKOUT / "bench" / "results"
# What a figure depends on: a change here without a commit marks the figures "-dirty".
MEASURED_CODE = ("bench", "geo", "safer_streets", "workers")

# How a measure's values are shown: seconds are scaled to µs/ms/s, the rest printed as they are.
Unit = Literal["s", "/s", "bytes", "count"]


def commit() -> str:
    """The short commit of the checkout, with "-dirty" when measured code is uncommitted."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=CHECKOUT, capture_output=True, text=True, check=True
        ).stdout.strip()

    short = git("rev-parse", "--short", "HEAD")
    changed = git(
        "status",
        "--porcelain",
        "--",
        *MEASURED_CODE,
        ":!bench/results",
        ":!bench/RESULTS.md",
        ":!bench/RESULTS.head.md",
    )
    return short + "-dirty" if changed else short


def summary(values: Sequence[float]) -> dict[str, float]:
    """Min, median and max of the repetitions."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def repeat_timed(
    fn: Callable[[], object],
    repeat: int,
    *,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds per call of ``fn`` for each of ``repeat`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        started = clock()
        fn()
        runs.append(clock() - started)
    return runs


@dataclass(frozen=True)
class Baseline:
    """What a measure is compared with, measured in the same run."""

    name: str
    runs: Sequence[float]


class Results:
    """The results of one run of one benchmark, saved as ``bench/results/<name>.json``."""

    def __init__(
        self, name: str, title: str, about: str, arguments: dict[str, Any] | object
    ) -> None:
        self.path = RESULTS_DIR / f"{name}.json"
        if not isinstance(arguments, dict):
            arguments = dict(vars(arguments))
        self.data: dict[str, Any] = {
            "name": name,
            "benchmark": f"bench/{Path(sys.argv[0]).name}",
            "title": title,
            "about": about,
            "commit": commit(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "arguments": arguments,
            "machine": description(),
            "load_average": {"start": list(os.getloadavg())},
            "measures": [],
            "notes": [],
        }
        print(f"machine: {self.data['machine']}\ncommit: {self.data['commit']}", flush=True)

    def add(
        self,
        label: str,
        runs: Sequence[float],
        unit: Unit,
        *,
        baseline: Baseline | None = None,
        higher_is_better: bool = False,
        target: str | None = None,
        met: bool | None = None,
    ) -> dict[str, Any]:
        """Record a measure (every repetition) and, with a baseline, the ratio of the medians.

        The ratio is how many times better ours is: baseline / ours for times, ours / baseline
        for rates (``higher_is_better``).
        """
        measure: dict[str, Any] = {
            "label": label,
            "unit": unit,
            "higher_is_better": higher_is_better,
            "runs": list(runs),
            **summary(runs),
        }
        if baseline is not None:
            base = statistics.median(baseline.runs)
            ours = measure["median"]
            measure["baseline"] = {
                "name": baseline.name,
                "runs": list(baseline.runs),
                **summary(baseline.runs),
            }
            measure["ratio"] = (ours / base if higher_is_better else base / ours) if ours else None
        if target is not None:
            measure["target"] = target
            measure["met"] = met
        self.data["measures"].append(measure)
        print(f"  {label}: {format_summary(measure, unit)}", end="", flush=True)
        if baseline is not None:
            print(
                f"; {baseline.name}: {format_summary(measure['baseline'], unit)}"
                f"; ratio {format_ratio(measure['ratio'])}",
                end="",
            )
        print(flush=True)
        return measure

    def note(self, text: str) -> None:
        """A sentence shown under the benchmark's table (an agreement check, a caveat)."""
        self.data["notes"].append(text)
        print(f"  note: {text}", flush=True)

    def save(self) -> Path:
        """Write the file, with the load average at the end of the run."""
        self.data["load_average"]["end"] = list(os.getloadavg())
        self.path.parent.mkdir(exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {self.path.relative_to(CHECKOUT)}", flush=True)
        return self.path


def format_value(value: float, unit: Unit) -> str:
    """One value in a readable unit."""
    if unit == "s":
        for scale, suffix in ((1e-3, "µs"), (1, "ms")):
            if abs(value) < scale:
                return f"{_digits(value * 1e3 / scale)} {suffix}"
        return f"{_digits(value)} s"
    if unit == "bytes":
        return f"{_digits(value / 1024)} KiB"
    if unit == "/s":
        return f"{_digits(value / 1e6)} M/s" if value >= 1e6 else f"{value:,.0f}/s"
    return f"{value:,.0f}"


def format_summary(measure: dict[str, Any], unit: Unit) -> str:
    """Median (min–max) of a measure, or the one value when it was measured once."""
    if len(measure["runs"]) == 1:
        return format_value(measure["median"], unit)
    low, high = (format_value(measure[k], unit) for k in ("min", "max"))
    return f"{format_value(measure['median'], unit)} ({low} – {high})"


def format_ratio(ratio: float | None) -> str:
    """A ratio as "12×", "1.4×" or "0.21×"."""
    if ratio is None:
        return "n/a"
    return f"{_digits(ratio)}×"


def _digits(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
