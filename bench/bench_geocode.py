"""Time offline geocoding of real Lewisham queries against a naive fuzzy-scan baseline.

Run: .venv/bin/python -m bench.bench_geocode

Queries are every shipped postcode (in mixed spacing and case) and every distinct police street
name (lower-cased, with Road/Street/Avenue/... abbreviated where they occur), plus one-letter
typos of the street names, which take the fuzzy path. The baseline, measured in the same run on
the same queries, is what one would write without an index: ``rapidfuzz.process.extractOne``
with rapidfuzz's default processor over every name (postcodes, street names, town centres).
"""

from __future__ import annotations

import csv
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import rapidfuzz
from rapidfuzz import fuzz, process, utils

from geo import DATA_DIR
from geo.gazetteer import Candidate, Gazetteer, _display_name, normalise_name

SEED = 20250101
ABBREVIATIONS = {
    " Road": " Rd",
    " Street": " St",
    " Avenue": " Ave",
    " Lane": " Ln",
    " Close": " Cl",
    " Crescent": " Cres",
    " Gardens": " Gdns",
    " Green": " Grn",
    " Place": " Pl",
    " Square": " Sq",
    " Terrace": " Tce",
}
BASELINE_SAMPLE = 1500  # per query set; the baseline is slow enough that a sample suffices


def read_rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def postcode_queries(rng: random.Random) -> list[tuple[str, str]]:
    """(query, expected label) for every shipped postcode, spaced and cased at random."""
    out = []
    for row in read_rows("lewisham_postcodes_codepoint_2025.csv"):
        pc = row["postcode"]
        variant = rng.choice(
            [pc, pc.lower(), pc.replace(" ", ""), pc.lower().replace(" ", ""), f" {pc}  "]
        )
        out.append((variant, pc))
    return out


def street_queries(rng: random.Random) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(query, expected label) for every distinct street name, and a one-letter typo of each."""
    names = sorted(
        {
            r["name"]
            for r in read_rows("lewisham_street_points_from_police.csv")
            if r["kind"] == "street"
        }
    )
    plain, typos = [], []
    for name in names:
        label = _display_name(name)
        query = label
        for long, short in ABBREVIATIONS.items():
            if query.endswith(long):
                query = query[: -len(long)] + short
        plain.append((query.lower(), label))
        letters = [i for i, ch in enumerate(label) if ch.isalpha()]
        if len(letters) >= 8:
            i = rng.choice(letters[1:])
            typos.append((label[:i] + label[i + 1 :], label))
    return plain, typos


def time_calls(fn: Callable[[str], object], queries: Sequence[str]) -> np.ndarray:
    """Per-call wall time in microseconds, after one warm-up pass over a few queries."""
    for q in queries[:50]:
        fn(q)
    out = np.empty(len(queries))
    for i, q in enumerate(queries):
        start = time.perf_counter_ns()
        fn(q)
        out[i] = (time.perf_counter_ns() - start) / 1000.0
    return out


def main() -> None:
    rng = random.Random(SEED)
    print("Safer Streets geocoding benchmark")
    print(
        f"machine: {platform.machine()}, cpus={os.cpu_count()}, python {platform.python_version()}"
        f" ({platform.python_implementation()}), {platform.platform()}"
    )
    print(f"numpy {np.__version__}, rapidfuzz {rapidfuzz.__version__}")

    load_times = []
    for _ in range(3):
        start = time.perf_counter()
        gaz = Gazetteer.from_files()
        load_times.append(time.perf_counter() - start)
    print(f"Gazetteer.from_files(): median {statistics.median(load_times) * 1000:.0f} ms of 3")

    # The baseline's whole index: every name, as shipped.
    street_rows = read_rows("lewisham_street_points_from_police.csv")
    all_names = sorted(
        {r["postcode"] for r in read_rows("lewisham_postcodes_codepoint_2025.csv")}
        | {r["name"] for r in street_rows if r["kind"] == "street"}
        | {
            "Blackheath",
            "Catford",
            "Deptford",
            "Downham",
            "Forest Hill",
            "Lee Green",
            "Lewisham",
            "New Cross and New Cross Gate",
            "Sydenham",
        }
    )

    def ours(q: str) -> object:
        return gaz.search(q)

    def baseline(q: str) -> object:
        return process.extractOne(q, all_names, scorer=fuzz.WRatio, processor=utils.default_process)

    postcodes = postcode_queries(rng)
    streets, typos = street_queries(rng)
    print(f"names in baseline scan: {len(all_names)}")
    print()
    header = (
        f"{'query set':<22}{'n':>6}{'median µs':>11}{'p99 µs':>10}{'top-1 ok':>10}"
        f"   {'baseline n':>10}{'median µs':>11}{'p99 µs':>10}{'top-1 ok':>10}{'speed-up':>10}"
    )
    print(header)
    print("-" * len(header))
    for title, cases in (
        ("postcodes", postcodes),
        ("street names", streets),
        ("street typos (fuzzy)", typos),
    ):
        queries = [q for q, _ in cases]
        ours_us = time_calls(ours, queries)
        ours_ok = np.mean([_ours_ok(gaz.search(q), want) for q, want in cases])
        sample = rng.sample(cases, min(BASELINE_SAMPLE, len(cases)))
        base_us = time_calls(baseline, [q for q, _ in sample])
        base_ok = np.mean([_baseline_ok(baseline(q), want) for q, want in sample])
        ratio = np.median(base_us) / np.median(ours_us)
        print(
            f"{title:<22}{len(cases):>6}{np.median(ours_us):>11.1f}"
            f"{np.percentile(ours_us, 99):>10.1f}{ours_ok:>10.1%}"
            f"   {len(sample):>10}{np.median(base_us):>11.1f}"
            f"{np.percentile(base_us, 99):>10.1f}{base_ok:>10.1%}{ratio:>9.0f}x"
        )

    nprng = np.random.default_rng(SEED)
    # The borough's bounding box (data/README.md), so some points fall just outside Lewisham.
    points = np.column_stack(
        [nprng.uniform(-0.0751, 0.0391, 2000), nprng.uniform(51.4135, 51.4931, 2000)]
    )
    rev_us = np.empty(len(points))
    for i, (lon, lat) in enumerate(points):
        start = time.perf_counter_ns()
        gaz.reverse(float(lon), float(lat))
        rev_us[i] = (time.perf_counter_ns() - start) / 1000.0
    print()
    print(
        f"reverse (2000 random points in the borough's bounding box): "
        f"median {np.median(rev_us):.1f} µs, p99 {np.percentile(rev_us, 99):.1f} µs"
    )
    print(
        "speed-up = baseline median / our median. Baseline: process.extractOne(query, all names,"
        " scorer=WRatio, processor=default_process), a linear scan without the exact index."
    )


def _ours_ok(found: list[Candidate], want: str) -> bool:
    # "Chestnut Close (Downham)" is Chestnut Close; police "Catford" is the Catford town centre.
    label = found[0].label.split(" (")[0].removesuffix(" town centre") if found else ""
    return normalise_name(label) == normalise_name(want)


def _baseline_ok(result: tuple[str, float, int] | None, want: str) -> bool:
    return result is not None and normalise_name(result[0]) == normalise_name(want)


if __name__ == "__main__":
    main()
