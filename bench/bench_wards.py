"""Ward lookup in batch, against a set-based PostGIS join and a vectorised shapely STRtree.

Run: .venv/bin/python -m bench.bench_wards [--points 1000000] [--repeat 5] [--quick]

``WardIndex.ward_indices`` (what the worker places a batch of reports with) over random points
in the borough's bounding box (about half fall in a ward), against two baselines on the
same points, measured in the same run:

- PostGIS, set-based: every point in one statement, the wards found by a join on the GiST
  index, the lowest code winning where a point is on a shared boundary:
  ``SELECT DISTINCT ON (p.i) p.i, w.code FROM unnest(:xs, :ys) WITH ORDINALITY AS p(x, y, i)
  JOIN ward w ON w.active AND ST_Covers(w.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))
  ORDER BY p.i, w.code`` (on the scratch database of bench/shared_database.py; the time
  includes sending the arrays and reading the answers).
- shapely 2, vectorised, two ways: ``shapely.points`` then one ``STRtree.query(points,
  predicate="within")`` on a tree of the ward polygons; and, faster, a tree of the points
  queried with the (prepared) ward polygons, ``STRtree(points).query(wards,
  predicate="covers")``, tree building included. The lowest ward index is kept per point.

All three must give the same ward for every point. Target: at least 1,000,000 points/s.
"""

from __future__ import annotations

import argparse

import numpy as np
import shapely
from sqlalchemy import text

from bench.results import Baseline, Results, repeat_timed
from bench.shared_database import ensure_database
from geo.wards import WardIndex
from safer_streets import places
from safer_streets.db import make_session_factory

BBOX = (-0.0751, 51.4135, 0.0391, 51.4931)  # the borough's bounds (data/README.md)
SEED = 2026
WARD_TARGET = 1_000_000
POSTGIS_JOIN = text(
    "SELECT DISTINCT ON (p.i) p.i, w.code"
    " FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, i)"
    " JOIN ward w ON w.active AND ST_Covers(w.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))"
    " ORDER BY p.i, w.code"
)


def random_points(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points over the borough's bounding box."""
    rng = np.random.default_rng(seed)
    return rng.uniform(BBOX[0], BBOX[2], n), rng.uniform(BBOX[1], BBOX[3], n)


def postgis_join(engine, wards: WardIndex, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """The ward index of each point by one set-based PostGIS statement, -1 where none."""
    by_code = {w.code: i for i, w in enumerate(wards.wards)}
    result = np.full(len(lons), -1, dtype=np.int64)
    with engine.connect() as conn:
        rows = conn.execute(POSTGIS_JOIN, {"xs": lons.tolist(), "ys": lats.tolist()}).all()
    for ordinal, code in rows:
        result[ordinal - 1] = by_code[code]
    return result


def lowest_ward(n: int, point_idx: np.ndarray, ward_idx: np.ndarray) -> np.ndarray:
    """Each point's lowest ward index among its hits (the lowest code wins), -1 for none."""
    none = np.iinfo(np.int64).max
    result = np.full(n, none, dtype=np.int64)
    np.minimum.at(result, point_idx, ward_idx)
    result[result == none] = -1
    return result


def strtree_within(tree: shapely.STRtree, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """The ward index of each point by one query of the wards' tree, -1 where none."""
    point_idx, ward_idx = tree.query(shapely.points(lons, lats), predicate="within")
    return lowest_ward(len(lons), point_idx, ward_idx)


def strtree_covers(wards: np.ndarray, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """The same by a tree of the points queried with the ward polygons, -1 where none."""
    ward_idx, point_idx = shapely.STRtree(shapely.points(lons, lats)).query(
        wards, predicate="covers"
    )
    return lowest_ward(len(lons), point_idx, ward_idx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgis-repeat", type=int, default=3, help="the join is slower")
    parser.add_argument("--quick", action="store_true", help="100,000 points")
    args = parser.parse_args()
    if args.quick:
        args.points = min(args.points, 100_000)

    results = Results(
        "wards",
        "Ward lookup in batch",
        f"`WardIndex.ward_indices` on {args.points:,} random points in the borough's bounding "
        "box, the call the worker places a batch of reports with. Baselines on the same points: "
        "one set-based PostGIS statement (`unnest(:xs, :ys) … JOIN ward ON ST_Covers(ward.geom, "
        "point)`, GiST index, lowest code on a shared boundary; the time includes sending the "
        "arrays and reading the answers) and shapely 2 vectorised, both ways round: a tree of the "
        "wards queried with the points (`within`), and a tree of the points queried with the "
        "prepared wards (`covers`, the faster). Rates are points per second.",
        args,
    )
    engine = ensure_database()
    with make_session_factory(engine)() as session:
        wards = places.load_ward_index(session)
    polygons = np.array([w.geometry for w in wards.wards], dtype=object)
    tree = shapely.STRtree(polygons)
    lons, lats = random_points(args.points)

    ours = wards.ward_indices(lons, lats)
    agree = (
        np.array_equal(ours, strtree_within(tree, lons, lats))
        and np.array_equal(ours, strtree_covers(polygons, lons, lats))
        and np.array_equal(ours, postgis_join(engine, wards, lons, lats))
    )
    sample = np.random.default_rng(SEED).choice(args.points, 500, replace=False)
    agree &= all(
        (w.code if (w := wards.ward_for_point(lons[i], lats[i])) else None)
        == (wards.wards[ours[i]].code if ours[i] >= 0 else None)
        for i in sample
    )

    def rates(seconds: list[float]) -> list[float]:
        return [args.points / s for s in seconds]

    ours_runs = rates(repeat_timed(lambda: wards.ward_indices(lons, lats), args.repeat))
    within_runs = rates(repeat_timed(lambda: strtree_within(tree, lons, lats), args.repeat))
    covers_runs = rates(repeat_timed(lambda: strtree_covers(polygons, lons, lats), args.repeat))
    postgis_runs = rates(
        repeat_timed(lambda: postgis_join(engine, wards, lons, lats), args.postgis_repeat)
    )
    met = min(ours_runs) >= WARD_TARGET
    results.add(
        "`WardIndex.ward_indices`",
        ours_runs,
        "/s",
        baseline=Baseline("PostGIS `unnest … JOIN ward ON ST_Covers`, one statement", postgis_runs),
        higher_is_better=True,
        target=f"≥ {WARD_TARGET:,} points/s (slowest run)",
        met=met,
    )
    results.add(
        "`WardIndex.ward_indices`",
        ours_runs,
        "/s",
        baseline=Baseline(
            "shapely 2 `STRtree(wards).query(points, predicate='within')`", within_runs
        ),
        higher_is_better=True,
    )
    results.add(
        "`WardIndex.ward_indices`",
        ours_runs,
        "/s",
        baseline=Baseline(
            "shapely 2 `STRtree(points).query(wards, predicate='covers')`, tree built in the time",
            covers_runs,
        ),
        higher_is_better=True,
    )
    results.note(
        f"{int((ours >= 0).sum()):,} of {args.points:,} points fell in a ward. The four lookups "
        f"give the same ward for every point, and `ward_for_point` agrees on 500 sampled: {agree}."
    )
    results.save()
    if not agree:
        raise SystemExit("the lookups disagree")


if __name__ == "__main__":
    main()
