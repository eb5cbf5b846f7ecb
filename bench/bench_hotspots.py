"""Benchmark geo.hotspots against PySAL's esda on the Lewisham 100 m grid.

Run: .venv/bin/python -m bench.bench_hotspots [--points N] [--repeat R]

One million synthetic reports over the borough (90 % uniform, 10 % in the nine town
centres) are binned on the 100 m BNG grid, masked to the borough. Timings are the
median of R runs after one warm-up. esda gets the same counts and the same weights
(a libpysal W built from the same neighbour lists), and is timed in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pyproj
import scipy
import shapely
from shapely.geometry import shape

from bench.machine import cpu_model
from geo import DATA_DIR, density, gistar, hotspots, projection, significance
from geo.grid import Grid, bin_points, bin_points_bng

TARGETS = {
    "pipeline": 1.0,
    "permutations": 3.0,
    "kde": 0.5,
    "esda_ratio": 10.0,
}


def version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "not installed"
    return getattr(mod, "__version__", "unknown")


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def synthetic_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    borough = projection.read_boundary()
    centres = [
        shape(f["geometry"])
        for f in json.loads((DATA_DIR / "lewisham_town_centres.geojson").read_text())["features"]
    ]

    def uniform(geometry: shapely.Geometry, k: int) -> tuple[np.ndarray, np.ndarray]:
        g = shapely.transform(
            geometry, lambda c: np.column_stack(projection.to_bng(c[:, 0], c[:, 1]))
        )
        shapely.prepare(g)
        x0, y0, x1, y1 = g.bounds
        xs, ys = [], []
        while sum(len(v) for v in xs) < k:
            x = rng.uniform(x0, x1, 3 * k + 100)
            y = rng.uniform(y0, y1, 3 * k + 100)
            inside = shapely.contains_xy(g, x, y)
            xs.append(x[inside])
            ys.append(y[inside])
        return np.concatenate(xs)[:k], np.concatenate(ys)[:k]

    n_cluster = n // 10
    parts = [uniform(borough, n - n_cluster)]
    per_centre = np.full(len(centres), n_cluster // len(centres))
    per_centre[: n_cluster - per_centre.sum()] += 1
    parts += [uniform(c, int(k)) for c, k in zip(centres, per_centre, strict=True)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return projection.to_lonlat(x, y)


def pysal_weights(mask: np.ndarray, kernel: np.ndarray):
    from libpysal.weights import W

    index = -np.ones(mask.shape, dtype=int)
    index[mask] = np.arange(mask.sum())
    r = kernel.shape[0] // 2
    offsets = [
        (di - r, dj - r)
        for di, dj in zip(*np.nonzero(kernel), strict=True)
        if (di - r, dj - r) != (0, 0)
    ]
    neighbours = {}
    for k, (i, j) in enumerate(zip(*np.nonzero(mask), strict=True)):
        neighbours[k] = [
            int(index[i + di, j + dj])
            for di, dj in offsets
            if 0 <= i + di < mask.shape[0] and 0 <= j + dj < mask.shape[1] and mask[i + di, j + dj]
        ]
    return W(neighbours, silence_warnings=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--esda-permutations", type=int, default=999)
    args = parser.parse_args()

    print("== machine")
    print(f"cpu        {cpu_model()} ({os.cpu_count()} logical cores)")
    print(f"python     {platform.python_version()} ({platform.platform()})")
    print(
        f"numpy {np.__version__}, scipy {scipy.__version__}, pyproj {pyproj.__version__}, "
        f"shapely {shapely.__version__}"
    )
    print(
        f"esda {version('esda')}, libpysal {version('libpysal')}, "
        f"numba {version('numba')}, joblib {version('joblib')}"
    )

    lons, lats = synthetic_points(args.points, seed=20251124)
    borough = projection.read_boundary()
    grid = Grid.covering(borough.bounds, 100.0)
    mask = grid.mask_from_geometry(borough)
    kernel = gistar.neighbourhood_kernel(cells=1)
    print(
        f"\n== data: {lons.size:,} points, grid {grid.nx} x {grid.ny} at 100 m, "
        f"{int(mask.sum()):,} cells in the borough, queen neighbourhood"
    )

    r = args.repeat
    t_project, (x, y) = timed(lambda: projection.to_bng(lons, lats), r)
    t_bin, counts = timed(lambda: bin_points_bng(x, y, grid), r)
    t_gi, gi = timed(lambda: gistar.getis_ord_gi_star(counts, kernel, mask=mask, exact=False), r)
    t_fdr, _ = timed(lambda: significance.classify_hotspots(gi.z, gi.p), r)
    t_pipeline, result = timed(
        lambda: hotspots.compute_hotspots(lons, lats, grid=grid, mask=mask, p_source="analytical"),
        r,
    )
    print(f"counts per cell: mean {counts[mask].mean():.0f}, max {counts[mask].max()}")
    print("\n== ours (median of runs)")
    print(f"project 4326->27700     {t_project * 1e3:8.1f} ms")
    print(f"bin (bincount)          {t_bin * 1e3:8.1f} ms")
    print(f"Gi* analytical          {t_gi * 1e3:8.1f} ms")
    print(f"BH FDR + labels         {t_fdr * 1e3:8.1f} ms")
    print(
        f"compute_hotspots (project+bin+Gi*+FDR, analytical) {t_pipeline:6.3f} s"
        f"   target < {TARGETS['pipeline']} s  labels {result.label_counts()}"
    )

    t_perm, gi_perm = timed(
        lambda: gistar.getis_ord_gi_star(
            counts, kernel, mask=mask, permutations=999, seed=1, exact=False
        ),
        r,
    )
    t_perm_pipeline, _ = timed(
        lambda: hotspots.compute_hotspots(
            lons, lats, grid=grid, mask=mask, permutations=999, seed=1, p_source="permutation"
        ),
        r,
    )
    print(f"Gi* + 999 permutations  {t_perm * 1e3:8.1f} ms")
    print(
        f"compute_hotspots with 999 permutations   {t_perm_pipeline:6.3f} s"
        f"   target < {TARGETS['permutations']} s"
    )

    t_kde, kde = timed(lambda: density.kernel_density(lons, lats, grid=grid), r)
    print(
        f"kernel_density (project+linear bin+Gaussian) {t_kde:6.3f} s   target < "
        f"{TARGETS['kde']} s  (bandwidth {kde.bandwidth_m:.0f} m, {kde.rule})"
    )

    exact = gistar.getis_ord_gi_star(counts, kernel, mask=mask)
    print(
        "exact p-values at this volume: "
        + ("computed" if exact.p_exact is not None else "skipped (counts too large; normal used)")
    )
    for n_small in (5_000, 20_000, 50_000):
        sub = np.random.default_rng(3).choice(lons.size, n_small, replace=False)
        small = bin_points(lons[sub], lats[sub], grid)
        label = f"Gi* + exact p-values, {n_small:,} points (max count {small[mask].max()}):"
        try:
            t_exact, _ = timed(
                lambda small=small: gistar.getis_ord_gi_star(small, kernel, mask=mask, exact=True),
                r,
            )
        except ValueError:
            print(f"{label} skipped, above EXACT_COST_LIMIT")
        else:
            print(f"{label} {t_exact * 1e3:7.1f} ms")

    print("\n== esda on the same counts and weights")
    try:
        import esda
    except ImportError:
        print("esda not installed: no baseline")
        return
    y = counts[mask].astype(float)
    t_w, w = timed(lambda: pysal_weights(mask, kernel), 1)
    print(f"build libpysal W (neighbour dict)  {t_w:7.3f} s  (ours needs only the 3x3 kernel)")

    def esda_run(permutations: int, n_jobs: int = 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return esda.G_Local(
                y, w, transform="B", star=True, permutations=permutations, seed=1, n_jobs=n_jobs
            )

    t_esda, ref = timed(lambda: esda_run(0), r)
    assert np.allclose(ref.Zs, gi.z[mask], atol=1e-6)
    print(
        f"G_Local analytical     {t_esda * 1e3:8.1f} ms   ours {t_gi * 1e3:.2f} ms   "
        f"ratio {t_esda / t_gi:7.1f}x   (max |dz| {np.abs(ref.Zs - gi.z[mask]).max():.1e})"
    )
    print(
        f"  incl. W construction {(t_esda + t_w) * 1e3:8.1f} ms   ratio "
        f"{(t_esda + t_w) / t_gi:7.1f}x"
    )
    p_esda = args.esda_permutations
    t_esda_perm, ref_perm = timed(lambda: esda_run(p_esda), max(1, r // 2))
    scale = 999 / p_esda
    t_esda_999 = t_esda_perm * scale
    note = "" if p_esda == 999 else f" (measured with {p_esda}, scaled linearly x{scale:.1f})"
    print(
        f"G_Local 999 perms, n_jobs=1  {t_esda_999:7.3f} s{note}   ours {t_perm:.4f} s   "
        f"ratio {t_esda_999 / t_perm:7.1f}x"
    )
    if os.cpu_count() and os.cpu_count() > 1:
        t_esda_par, _ = timed(lambda: esda_run(p_esda, n_jobs=-1), 1)
        print(
            f"G_Local 999 perms, n_jobs=-1 {t_esda_par * scale:7.3f} s   ratio "
            f"{t_esda_par * scale / t_perm:7.1f}x"
        )
    diff = gi_perm.p_sim[mask] - ref_perm.p_sim
    print(
        f"p_sim vs esda (different random streams): mean diff {diff.mean():+.4f}, "
        f"max |diff| {np.abs(diff).max():.3f}"
    )
    print(
        "ratio end to end (esda W + G_Local 999 perms, vs our Gi* + 999 perms): "
        f"{(t_w + t_esda_999) / t_perm:.0f}x"
    )


if __name__ == "__main__":
    main()
