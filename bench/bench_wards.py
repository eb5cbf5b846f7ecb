"""Ward lookup in batch, and geocode + route CPU per report, against PostGIS one query per report.

Run: .venv/bin/python -m bench.bench_wards [--points 1000000] [--reports 20000] [--baseline 2000]

Baseline, measured in the same run on the scratch database (bench/shared_database.py): one PostGIS
query per report, as a database-backed router would do it:
    SELECT code FROM ward WHERE active AND ST_Covers(geom, <point>) ORDER BY code LIMIT 1
(ward.geom has its GiST index; the point is a bound parameter).

1. Ward lookup in batch: ``WardIndex.ward_indices`` over random points in the borough's
   bounding box (about two thirds fall in Lewisham), median of 5 runs, on one core. The
   previous implementation (one STRtree query, predicate covered_by) is shown for reference.
   Target: at least 1,000,000 points/s.
2. Geocode + route, CPU time per report (``time.process_time``), for synthetic reports: a
   third typed as postcodes, a third as street names, a third as GPS points; random
   categories, London times and reasons. Per report: forward geocoding of the text, nearest
   street and postcode, ward, named areas covering the point, and ``RoutingTable.decide``
   over the rules the worker loads. Shown one report at a time and in
   batches of 1,000 (``Gazetteer.reverse_many``, ``WardIndex.ward_indices`` and the areas
   vectorised, then decide per report). Target: at most 50 µs per report.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import time
from datetime import time as clock

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import select, text

from bench.machine import description
from bench.shared_database import ensure_database
from geo import DATA_DIR
from geo.gazetteer import _display_name, default_gazetteer
from safer_streets import places
from safer_streets.db import make_session_factory
from safer_streets.models import Area, Category
from safer_streets.routing import decide
from safer_streets.taxonomy import reasons_for

BBOX = (-0.0751, 51.4135, 0.0391, 51.4931)  # the borough's bounds (data/README.md)
SEED = 2026
WARD_TARGET = 1_000_000
ROUTE_TARGET_US = 50.0


def random_points(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(BBOX[0], BBOX[2], n), rng.uniform(BBOX[1], BBOX[3], n)


def median_seconds(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def postgis_per_query(engine, lons: np.ndarray, lats: np.ndarray) -> float:
    """Wall seconds per ST_Covers query, one query per point, after a warm-up."""
    query = text(
        "SELECT code FROM ward WHERE active AND "
        "ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY code LIMIT 1"
    )
    with engine.connect() as conn:
        for lon, lat in zip(lons[:50], lats[:50], strict=True):
            conn.execute(query, {"lon": float(lon), "lat": float(lat)}).scalar()
        started = time.perf_counter()
        for lon, lat in zip(lons, lats, strict=True):
            conn.execute(query, {"lon": float(lon), "lat": float(lat)}).scalar()
        return (time.perf_counter() - started) / len(lons)


class AreaIndex:
    """Named areas as prepared shapely geometries, as a router holding them in memory would."""

    def __init__(self, areas: list[tuple[decide.AreaRef, object]]) -> None:
        self.refs = [ref for ref, _ in areas]
        self.geometries = np.array([g for _, g in areas], dtype=object)
        shapely.prepare(self.geometries)
        self.bounds = shapely.bounds(self.geometries)

    def covering(self, lon: float, lat: float) -> tuple[decide.AreaRef, ...]:
        x0, y0, x1, y1 = self.bounds.T
        inside = np.flatnonzero((x0 <= lon) & (lon <= x1) & (y0 <= lat) & (lat <= y1))
        return tuple(
            self.refs[i] for i in inside if shapely.intersects_xy(self.geometries[i], lon, lat)
        )

    def covering_many(self, lons: np.ndarray, lats: np.ndarray) -> list[tuple]:
        found: list[list[decide.AreaRef]] = [[] for _ in range(len(lons))]
        for ref, geometry, (x0, y0, x1, y1) in zip(
            self.refs, self.geometries, self.bounds, strict=True
        ):
            near = np.flatnonzero((lons >= x0) & (lons <= x1) & (lats >= y0) & (lats <= y1))
            for i in near[shapely.intersects_xy(geometry, lons[near], lats[near])]:
                found[i].append(ref)
        return [tuple(f) for f in found]


def synthetic_reports(n: int, categories: list[Category]) -> list[dict]:
    rng = random.Random(SEED)
    postcodes = sorted(default_gazetteer().postcodes)
    with (DATA_DIR / "lewisham_street_points_from_police.csv").open(newline="") as fh:
        streets = sorted(
            {_display_name(r["name"]) for r in csv.DictReader(fh) if r["kind"] == "street"}
        )
    lons, lats = random_points(n, SEED + 1)
    out = []
    for i in range(n):
        category = categories[i % len(categories)]
        keys = [r.key for r in reasons_for(category.slug)]
        report = {
            "category": category,
            "at": clock(rng.randrange(24), rng.randrange(60)),
            "reasons": rng.sample(keys, min(len(keys), rng.randrange(3))) if keys else [],
        }
        kind = i % 3
        if kind == 0:
            report["text"] = rng.choice(postcodes).lower().replace(" ", "")
        elif kind == 1:
            report["text"] = rng.choice(streets).lower()
        else:
            report["point"] = (float(lons[i]), float(lats[i]))
        out.append(report)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    args = parser.parse_args()

    print("Safer Streets ward lookup and routing benchmark")
    print(f"machine: {description()}")
    print(
        f"numpy {np.__version__}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string})"
    )
    engine = ensure_database()
    factory = make_session_factory(engine)
    with factory() as session:
        wards = places.load_ward_index(session)
        rules = decide.active_rules(session)
        categories = list(session.scalars(select(Category).order_by(Category.position)))
        areas = AreaIndex(
            [
                (decide.AreaRef(a.slug, a.name), to_shape(a.geom))
                for a in session.scalars(select(Area))
                if a.slug in decide.RoutingTable(rules).area_slugs
            ]
        )
    table = decide.RoutingTable(rules)
    gazetteer = default_gazetteer()

    # Baseline: one PostGIS query per report.
    base_lons, base_lats = random_points(args.baseline, SEED + 2)
    per_query = postgis_per_query(engine, base_lons, base_lats)
    print(
        f"baseline: PostGIS ST_Covers, one query per report: {per_query * 1e6:.0f} µs per "
        f"report = {1 / per_query:,.0f} reports/s ({args.baseline} queries)"
    )
    print()

    # 1. Ward lookup in batch.
    lons, lats = random_points(args.points)
    ours = median_seconds(lambda: wards.ward_indices(lons, lats))
    tree = wards._tree  # the previous implementation's index

    def previous() -> np.ndarray:
        points = shapely.points(lons, lats)
        point_idx, ward_idx = tree.query(points, predicate="covered_by")
        result = np.full(len(points), -1, dtype=np.int64)
        order = np.argsort(-ward_idx, kind="stable")
        result[point_idx[order]] = ward_idx[order]
        return result

    theirs = median_seconds(previous, repeat=3)
    agree = np.array_equal(wards.ward_indices(lons, lats), previous())
    sample = np.random.default_rng(SEED).choice(args.points, 200, replace=False)
    one_by_one = [wards.ward_for_point(lons[i], lats[i]) for i in sample]
    agree &= all(
        (w.code if w else None)
        == (
            wards.wards[j].code if (j := wards.ward_indices(lons[[i]], lats[[i]])[0]) >= 0 else None
        )
        for i, w in zip(sample, one_by_one, strict=True)
    )
    rate = args.points / ours
    print(f"1. ward lookup in batch ({args.points:,} points, median of 5):")
    print(f"   WardIndex.ward_indices: {rate:,.0f} points/s ({ours * 1000:.0f} ms)")
    print(f"   previous STRtree query: {args.points / theirs:,.0f} points/s (reference)")
    print(f"   agrees with ward_for_point and the previous lookup: {agree}")
    print(f"   vs PostGIS one query per point: {rate * per_query:,.0f}x")
    print(f"   target >= {WARD_TARGET:,} points/s: {'met' if rate >= WARD_TARGET else 'NOT met'}")
    print()

    # 2. Geocode + route per report.
    synthetic = synthetic_reports(args.reports, categories)

    def route_one(report: dict) -> decide.RoutingDecision:
        if "text" in report:
            best = gazetteer.search(report["text"])[0]
            lon, lat = best.lon, best.lat
        else:
            lon, lat = report["point"]
        gazetteer.reverse(lon, lat)
        ward = wards.ward_for_point(lon, lat)
        category = report["category"]
        return table.decide(
            category=category.slug,
            category_name=category.name,
            place=decide.Place(
                ward.code if ward else None, ward.name if ward else None, areas.covering(lon, lat)
            ),
            at=report["at"],
            reasons=report["reasons"],
        )

    def route_batch(batch: list[dict]) -> list[decide.RoutingDecision]:
        points = []
        for report in batch:
            if "text" in report:
                best = gazetteer.search(report["text"])[0]
                points.append((best.lon, best.lat))
            else:
                points.append(report["point"])
        blons, blats = (np.array(c) for c in zip(*points, strict=True))
        gazetteer.reverse_many(blons, blats)
        ward_idx = wards.ward_indices(blons, blats)
        covering = areas.covering_many(blons, blats)
        decisions = []
        for report, w, area_refs in zip(batch, ward_idx, covering, strict=True):
            ward = wards.wards[w] if w >= 0 else None
            category = report["category"]
            decisions.append(
                table.decide(
                    category=category.slug,
                    category_name=category.name,
                    place=decide.Place(
                        ward.code if ward else None, ward.name if ward else None, area_refs
                    ),
                    at=report["at"],
                    reasons=report["reasons"],
                )
            )
        return decisions

    for report in synthetic[:200]:
        route_one(report)
    started = time.process_time()
    singles = [route_one(r) for r in synthetic]
    one_us = (time.process_time() - started) / len(synthetic) * 1e6
    started = time.process_time()
    batched = []
    for i in range(0, len(synthetic), 1000):
        batched += route_batch(synthetic[i : i + 1000])
    batch_us = (time.process_time() - started) / len(synthetic) * 1e6
    same = [d.reason for d in singles] == [d.reason for d in batched]
    print(f"2. geocode + route, CPU per report ({args.reports:,} reports):")
    print(
        f"   one at a time (with nearest street/postcode): {one_us:.1f} µs "
        f"-> {per_query * 1e6 / one_us:.1f}x the PostGIS query per report"
    )
    print(
        f"   in batches of 1,000 (street/postcode, ward, areas vectorised): {batch_us:.1f} µs "
        f"-> {per_query * 1e6 / batch_us:.1f}x the PostGIS query per report"
    )
    print(f"   both give the same decisions: {same}")
    best = min(one_us, batch_us)
    print(
        f"   target <= {ROUTE_TARGET_US:.0f} µs per report: "
        f"{'met' if best <= ROUTE_TARGET_US else 'NOT met'} (best {best:.1f} µs)"
    )


if __name__ == "__main__":
    main()
