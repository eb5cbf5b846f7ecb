"""Time offline geocoding of real Lewisham queries against a naive fuzzy-scan baseline.

Run: .venv/bin/python -m bench.bench_geocode [--repeat 5] [--quick]

Queries are every shipped postcode (in mixed spacing and case) and every distinct police street
name (lower-cased, with Road/Street/Avenue/... abbreviated where they occur), plus one-letter
typos of the street names, which take the fuzzy path. The baseline, measured in the same run on
the same queries, is what one would write without an index: ``rapidfuzz.process.extractOne``
with rapidfuzz's default processor over every name (postcodes, street names, town centres).
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from collections.abc import Callable, Sequence

import numpy as np
import rapidfuzz
from rapidfuzz import fuzz, process, utils

from bench.results import Baseline, Results, repeat_timed
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
TOWN_CENTRES = (
    "Blackheath",
    "Catford",
    "Deptford",
    "Downham",
    "Forest Hill",
    "Lee Green",
    "Lewisham",
    "New Cross and New Cross Gate",
    "Sydenham",
)
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="passes over every query set")
    parser.add_argument("--quick", action="store_true", help="3 passes, smaller baseline sample")
    args = parser.parse_args()
    sample_size = BASELINE_SAMPLE
    if args.quick:
        args.repeat, sample_size = min(args.repeat, 3), 300
    rng = random.Random(SEED)
    results = Results(
        "geocode",
        "Offline geocoding",
        "Forward geocoding (`Gazetteer.search`) of every shipped postcode (in mixed spacing and "
        "case), every police street name (lower-cased, Road/Street/… abbreviated) and a "
        "one-letter typo of each street name (the fuzzy path); reverse geocoding of 2,000 random "
        "points. Figures are the median time of one call over a pass of every query, one "
        "value per pass. Baselines in the same run: for postcodes, a plain dict from the "
        "compact upper-case postcode to its place (what a postcode-only look-up needs); for "
        "street names, `rapidfuzz.process.extractOne` over every name (a linear fuzzy scan, "
        f"on a sample of {sample_size:,} queries per set).",
        {**vars(args), "rapidfuzz": rapidfuzz.__version__},
    )
    load_times = repeat_timed(Gazetteer.from_files, 3, warmup=0)
    gaz = Gazetteer.from_files()
    results.add("loading the gazetteer", load_times, "s")

    street_rows = read_rows("lewisham_street_points_from_police.csv")
    postcode_rows = read_rows("lewisham_postcodes_codepoint_2025.csv")
    all_names = sorted(
        {r["postcode"] for r in postcode_rows}
        | {r["name"] for r in street_rows if r["kind"] == "street"}
        | set(TOWN_CENTRES)
    )
    postcode_dict = {
        r["postcode"].replace(" ", ""): (float(r["longitude"]), float(r["latitude"]))
        for r in postcode_rows
    }

    def fuzzy_scan(q: str) -> object:
        return process.extractOne(q, all_names, scorer=fuzz.WRatio, processor=utils.default_process)

    def dict_lookup(q: str) -> object:
        return postcode_dict.get(q.replace(" ", "").upper())

    postcodes = postcode_queries(rng)
    streets, typos = street_queries(rng)
    for title, cases, baseline_name, baseline, sample in (
        ("postcodes", postcodes, "a plain dict of compact postcodes", dict_lookup, postcodes),
        (
            "street names",
            streets,
            "rapidfuzz `extractOne` over every name",
            fuzzy_scan,
            rng.sample(streets, min(sample_size, len(streets))),
        ),
        (
            "street names with a typo (fuzzy path)",
            typos,
            "rapidfuzz `extractOne` over every name",
            fuzzy_scan,
            rng.sample(typos, min(sample_size, len(typos))),
        ),
    ):
        queries = [q for q, _ in cases]
        ours = [float(np.median(time_calls(gaz.search, queries))) / 1e6 for _ in range(args.repeat)]
        theirs = [
            float(np.median(time_calls(baseline, [q for q, _ in sample]))) / 1e6
            for _ in range(args.repeat)
        ]
        results.add(
            f"{title} ({len(cases):,} queries), one call",
            ours,
            "s",
            baseline=Baseline(baseline_name, theirs),
            target="< 2 ms median",
            met=max(ours) < 0.002,
        )
        right = np.mean([_ours_ok(gaz.search(q), want) for q, want in cases])
        results.note(f"{title}: the first answer is the right one for {right:.1%} of queries.")

    nprng = np.random.default_rng(SEED)
    # The borough's bounding box (data/README.md), so some points fall just outside Lewisham.
    lons, lats = nprng.uniform(-0.0751, 0.0391, 2000), nprng.uniform(51.4135, 51.4931, 2000)
    one_by_one = []
    for _ in range(args.repeat):
        per_call = np.empty(len(lons))
        for i, (lon, lat) in enumerate(zip(lons, lats, strict=True)):
            start = time.perf_counter_ns()
            gaz.reverse(float(lon), float(lat))
            per_call[i] = (time.perf_counter_ns() - start) / 1e9
        one_by_one.append(float(np.median(per_call)))
    results.add("reverse geocoding, one point a call", one_by_one, "s")
    batched = [s / len(lons) for s in repeat_timed(lambda: gaz.reverse_many(lons, lats), 5)]
    results.add(
        "reverse geocoding, 2,000 points in one `reverse_many`, per point",
        batched,
        "s",
        baseline=Baseline("`reverse` one point a call (median)", one_by_one),
    )
    results.save()


def _ours_ok(found: list[Candidate], want: str) -> bool:
    # "Chestnut Close (Downham)" is Chestnut Close; police "Catford" is the Catford town centre.
    label = found[0].label.split(" (")[0].removesuffix(" town centre") if found else ""
    return normalise_name(label) == normalise_name(want)


if __name__ == "__main__":
    main()
