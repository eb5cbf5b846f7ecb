"""Tests for geo.hotspots: grid binning, Gi* (against hand values and esda), FDR,
kernel density, emerging hotspots and time profiles."""

from __future__ import annotations

import itertools
import json
import math
import warnings
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from shapely.geometry import shape

from geo import (
    DATA_DIR,
    correlation,
    crand,
    density,
    emerging,
    gistar,
    hotspots,
    projection,
    significance,
    suntimes,
)
from geo.grid import Grid, bin_points, bin_points_bng, bin_points_h3, bin_points_windows

BOROUGH = projection.read_boundary()


def _town_centre(name: str) -> shapely.Geometry:
    features = json.loads((DATA_DIR / "lewisham_town_centres.geojson").read_text())["features"]
    return next(shape(f["geometry"]) for f in features if f["properties"]["sitename"] == name)


CATFORD = _town_centre("Catford")


def _bng(geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(
        geometry, lambda c: np.column_stack(projection.to_bng(c[:, 0], c[:, 1]))
    )


def _uniform_points(geometry: shapely.Geometry, n: int, rng: np.random.Generator):
    """n points uniform by area inside a lon/lat polygon (sampled in BNG)."""
    geometry_bng = _bng(geometry)
    shapely.prepare(geometry_bng)
    x0, y0, x1, y1 = geometry_bng.bounds
    xs, ys = [], []
    while sum(len(v) for v in xs) < n:
        x = rng.uniform(x0, x1, 3 * n)
        y = rng.uniform(y0, y1, 3 * n)
        inside = shapely.contains_xy(geometry_bng, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
    return projection.to_lonlat(np.concatenate(xs)[:n], np.concatenate(ys)[:n])


@pytest.fixture(scope="module")
def borough_grid():
    grid = Grid.covering(BOROUGH.bounds, 100)
    return grid, grid.mask_from_geometry(BOROUGH)


@pytest.fixture(scope="module")
def postcode_counts(borough_grid):
    grid, _ = borough_grid
    data = np.genfromtxt(
        DATA_DIR / "lewisham_postcodes_codepoint_2025.csv",
        delimiter=",",
        names=True,
        usecols=("latitude", "longitude"),
    )
    return bin_points(data["longitude"], data["latitude"], grid)


# ------------------------------------------------------------------------------ grid


def test_grid_covering_snaps_origin_and_contains_bounds():
    grid = Grid.covering(BOROUGH.bounds, 100)
    assert grid.x0 % 100 == 0
    assert grid.y0 % 100 == 0
    xmin, ymin, xmax, ymax = grid.bounds_bng
    corners = projection.to_bng(
        [BOROUGH.bounds[0], BOROUGH.bounds[2], BOROUGH.bounds[0], BOROUGH.bounds[2]],
        [BOROUGH.bounds[1], BOROUGH.bounds[1], BOROUGH.bounds[3], BOROUGH.bounds[3]],
    )
    assert (corners[0] >= xmin).all()
    assert (corners[0] < xmax).all()
    assert (corners[1] >= ymin).all()
    assert (corners[1] < ymax).all()
    # The borough is about 7.8 km x 8.9 km.
    assert 75 <= grid.nx <= 90
    assert 85 <= grid.ny <= 95


def test_borough_mask_area_matches_published_area(borough_grid):
    grid, mask = borough_grid
    # 35.149 km² is 3,515 cells of 1 ha; the centre rule is within a percent of it.
    assert mask.sum() * grid.cell_area_km2 == pytest.approx(35.149, rel=0.01)
    coverage = grid.coverage(BOROUGH)
    assert coverage.sum() * grid.cell_area_km2 == pytest.approx(35.149, rel=1e-3)
    assert grid.mask_from_geometry(BOROUGH, min_fraction=0.99).sum() < mask.sum()


def test_bin_points_counts_known_cells():
    grid = Grid(x0=537000.0, y0=172000.0, cell_size=100.0, nx=4, ny=3)
    x = np.array([537050.0, 537050.0, 537399.9, 537000.0, 537400.0, np.nan, 536999.0])
    y = np.array([172050.0, 172099.0, 172299.9, 172200.0, 172000.0, 172000.0, 172000.0])
    counts = bin_points_bng(x, y, grid)
    expected = np.zeros((3, 4), dtype=np.int64)
    expected[0, 0] = 2
    expected[2, 3] = 1
    expected[2, 0] = 1
    np.testing.assert_array_equal(counts, expected)
    iy, ix, inside = grid.cell_index(x, y)
    np.testing.assert_array_equal(inside, [True, True, True, True, False, False, False])
    np.testing.assert_array_equal(iy[:4], [0, 0, 2, 2])
    np.testing.assert_array_equal(ix[:4], [0, 0, 3, 0])


def test_bin_points_lonlat_and_cell_geometry_round_trip(borough_grid):
    grid, _ = borough_grid
    # Catford Broadway.
    counts = bin_points([-0.0207], [51.4452], grid)
    assert counts.sum() == 1
    iy, ix = np.argwhere(counts == 1)[0]
    ring = grid.cell_polygons_lonlat([iy], [ix])[0]
    assert ring.shape == (5, 2)
    np.testing.assert_allclose(ring[0], ring[-1])
    cell = shapely.Polygon(ring)
    assert cell.covers(shapely.Point(-0.0207, 51.4452))
    lon, lat = grid.centres_lonlat()
    assert cell.contains(shapely.Point(lon[iy, ix], lat[iy, ix]))
    # A 100 m BNG square is about 0.0014° of longitude by 0.0009° of latitude here.
    assert np.ptp(ring[:, 0]) == pytest.approx(0.00144, abs=5e-5)
    assert np.ptp(ring[:, 1]) == pytest.approx(0.0009, abs=5e-5)


def test_bin_points_windows_matches_per_window_binning(borough_grid):
    grid, _ = borough_grid
    rng = np.random.default_rng(5)
    lons, lats = _uniform_points(BOROUGH, 2000, rng)
    window = rng.integers(-1, 4, lons.size)
    cube = bin_points_windows(lons, lats, window, 4, grid)
    assert cube.shape == (4, *grid.shape)
    for t in range(4):
        sel = window == t
        np.testing.assert_array_equal(cube[t], bin_points(lons[sel], lats[sel], grid))


def test_bin_points_h3_counts():
    h3 = pytest.importorskip("h3")
    lons = np.array([-0.0207, -0.0207, -0.0300, 0.01])
    lats = np.array([51.4452, 51.4452, 51.4600, 51.45])
    cells, counts = bin_points_h3(lons, lats, resolution=9)
    assert counts.sum() == 4
    catford = h3.latlng_to_cell(51.4452, -0.0207, 9)
    assert dict(zip(cells.tolist(), counts.tolist(), strict=True))[catford] == 2


# ------------------------------------------------------------------------------- Gi*


def test_neighbourhood_kernels():
    np.testing.assert_array_equal(gistar.neighbourhood_kernel(), np.ones((3, 3), bool))
    np.testing.assert_array_equal(
        gistar.neighbourhood_kernel(distance_m=150, cell_size_m=100), np.ones((3, 3), bool)
    )
    rook = gistar.neighbourhood_kernel(distance_m=100, cell_size_m=100)
    np.testing.assert_array_equal(rook, [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert gistar.neighbourhood_kernel(distance_m=250, cell_size_m=100).sum() == 21
    assert gistar.neighbourhood_kernel(cells=2).shape == (5, 5)
    with pytest.raises(ValueError, match="either"):
        gistar.neighbourhood_kernel(cells=1, distance_m=100)


def test_gi_star_hand_computed_single_peak():
    # 3 x 3 grid, 9 in the centre: n = 9, mean 1, population variance 81/9 - 1 = 8.
    y = np.zeros((3, 3))
    y[1, 1] = 9
    gi = gistar.getis_ord_gi_star(y, exact=False)
    # Corner: neighbourhood of 4 cells, sum 9 -> (9 - 4) / (sqrt(8) sqrt(4*5/8)) = sqrt(5)/2.
    assert gi.z[0, 0] == pytest.approx(math.sqrt(5) / 2, abs=1e-12)
    # Edge: 6 cells, sum 9 -> (9 - 6) / (sqrt(8) sqrt(6*3/8)) = 1/sqrt(2).
    assert gi.z[0, 1] == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    # Centre: the neighbourhood is the whole grid, zero variance -> z = 0, p = 1.
    assert gi.z[1, 1] == 0
    assert gi.p[1, 1] == 1
    assert gi.p[0, 0] == pytest.approx(2 * stats.norm.sf(math.sqrt(5) / 2), abs=1e-15)
    np.testing.assert_array_equal(gi.cardinality, [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


def test_gi_star_hand_computed_with_mask():
    # One row; the last cell is outside the study area and its 100 must not count.
    y = np.array([[1.0, 2.0, 3.0, 4.0, 100.0]])
    mask = np.array([[True, True, True, True, False]])
    gi = gistar.getis_ord_gi_star(y, np.ones((3, 3), bool), mask=mask)
    # n = 4, mean 2.5, population variance 7.5 - 6.25 = 1.25.
    den = math.sqrt(1.25) * math.sqrt(2 * (4 - 2) / 3)
    assert gi.z[0, 0] == pytest.approx((3 - 2.5 * 2) / den, abs=1e-12)
    assert gi.z[0, 3] == pytest.approx((7 - 2.5 * 2) / den, abs=1e-12)
    assert gi.z[0, 1] == pytest.approx((6 - 2.5 * 3) / (math.sqrt(1.25) * math.sqrt(3 / 3)))
    assert np.isnan(gi.z[0, 4])
    assert np.isnan(gi.p[0, 4])
    assert gi.n == 4


def _gi_star_loops(y: np.ndarray, kernel: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Independent Gi* from Getis & Ord (1992) G*_i = sum w y / sum y, in plain loops."""
    r = kernel.shape[0] // 2
    vals = y[mask]
    n = vals.size
    total = vals.sum()
    mean = total / n
    s2 = (vals**2).sum() / n - mean**2
    z = np.full(y.shape, np.nan)
    for i, j in zip(*np.nonzero(mask), strict=True):
        g = 0.0
        w = 0
        for di in range(-r, r + 1):
            for dj in range(-r, r + 1):
                a, b = i + di, j + dj
                inside = 0 <= a < y.shape[0] and 0 <= b < y.shape[1] and mask[a, b]
                if inside and kernel[di + r, dj + r]:
                    g += y[a, b]
                    w += 1
        g /= total
        expected = w / n
        variance = w * (n - w) / (n**2 * (n - 1)) * s2 / mean**2
        z[i, j] = (g - expected) / math.sqrt(variance)
    return z


def test_gi_star_matches_independent_loop_formula():
    rng = np.random.default_rng(11)
    y = rng.poisson(3, (12, 15)).astype(float)
    mask = rng.random((12, 15)) > 0.2
    kernel = gistar.neighbourhood_kernel(distance_m=250, cell_size_m=100)
    gi = gistar.getis_ord_gi_star(y, kernel, mask=mask)
    np.testing.assert_allclose(gi.z, _gi_star_loops(y, kernel, mask), atol=1e-12)


def test_gi_star_rejects_bad_input():
    with pytest.raises(ValueError, match="centre"):
        gistar.getis_ord_gi_star(np.ones((4, 4)), np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]]))
    with pytest.raises(ValueError, match="two"):
        gistar.getis_ord_gi_star(np.ones((2, 2)), mask=np.eye(2, dtype=bool) & False)


# ----------------------------------------------------------------------- vs esda / pysal


def _pysal_w(mask: np.ndarray, kernel: np.ndarray):
    """libpysal W over the masked cells (raster order) from a neighbour dict."""
    libpysal = pytest.importorskip("libpysal")
    index = -np.ones(mask.shape, dtype=int)
    index[mask] = np.arange(mask.sum())
    r = kernel.shape[0] // 2
    offsets = [(di - r, dj - r) for di, dj in zip(*np.nonzero(kernel), strict=True)]
    offsets = [o for o in offsets if o != (0, 0)]
    neighbours = {}
    for k, (i, j) in enumerate(zip(*np.nonzero(mask), strict=True)):
        neighbours[k] = [
            int(index[i + di, j + dj])
            for di, dj in offsets
            if 0 <= i + di < mask.shape[0] and 0 <= j + dj < mask.shape[1] and mask[i + di, j + dj]
        ]
    return libpysal.weights.W(neighbours, silence_warnings=True)


def _esda_g_local(y: np.ndarray, w, **kwargs):
    esda = pytest.importorskip("esda")
    with warnings.catch_warnings():
        # esda 2.x warns that its permutation alternative will change, and numba is
        # optional: neither matters for these comparisons.
        warnings.simplefilter("ignore")
        return esda.G_Local(y.astype(float), w, transform="B", star=True, **kwargs)


@pytest.mark.parametrize("kernel_cells", [1, 2])
def test_matches_esda_on_borough_grid_poisson_counts(borough_grid, kernel_cells):
    grid, mask = borough_grid
    y = np.random.default_rng(2025).poisson(2.0, grid.shape)
    kernel = gistar.neighbourhood_kernel(cells=kernel_cells)
    ours = gistar.getis_ord_gi_star(y, kernel, mask=mask)
    ref = _esda_g_local(y[mask], _pysal_w(mask, kernel), permutations=0)
    np.testing.assert_allclose(ours.z[mask], ref.Zs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.p[mask], 2 * ref.p_norm, rtol=0, atol=1e-6)


def test_matches_esda_on_postcode_counts_with_distance_band(borough_grid, postcode_counts):
    libpysal = pytest.importorskip("libpysal")
    grid, mask = borough_grid
    kernel = gistar.neighbourhood_kernel(distance_m=250, cell_size_m=grid.cell_size)
    ours = gistar.getis_ord_gi_star(postcode_counts, kernel, mask=mask)
    # Weights built independently by libpysal from the cell centres.
    xx, yy = grid.centres()
    w = libpysal.weights.DistanceBand(
        np.column_stack([xx[mask], yy[mask]]), threshold=250, binary=True, silence_warnings=True
    )
    ref = _esda_g_local(postcode_counts[mask], w, permutations=0)
    np.testing.assert_allclose(ours.z[mask], ref.Zs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.p[mask], 2 * ref.p_norm, rtol=0, atol=1e-6)


def test_matches_esda_on_full_grid_with_lattice_weights(postcode_counts):
    libpysal = pytest.importorskip("libpysal")
    # No mask: every cell of the bounding grid, queen lattice from libpysal itself.
    ny, nx = postcode_counts.shape
    w = libpysal.weights.lat2W(ny, nx, rook=False)
    ours = gistar.getis_ord_gi_star(postcode_counts)
    ref = _esda_g_local(postcode_counts.ravel(), w, permutations=0)
    np.testing.assert_allclose(ours.z.ravel(), ref.Zs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.p.ravel(), 2 * ref.p_norm, rtol=0, atol=1e-6)


def test_permutation_p_values_agree_with_esda_in_distribution(borough_grid):
    grid, mask = borough_grid
    y = np.random.default_rng(7).poisson(2.0, grid.shape)
    kernel = gistar.neighbourhood_kernel(cells=1)
    ours = gistar.getis_ord_gi_star(y, kernel, mask=mask, permutations=999, seed=1)
    ref = _esda_g_local(y[mask], _pysal_w(mask, kernel), permutations=999, seed=1, n_jobs=1)
    p_ours = ours.p_sim[mask]
    # Different random streams: agreement up to Monte Carlo error (sd <= 0.016 at
    # 999 permutations), and the same definition (range, resolution, mean).
    assert p_ours.min() >= 1 / 1000
    assert p_ours.max() <= 0.5 + 1e-12
    np.testing.assert_allclose(p_ours * 1000, np.rint(p_ours * 1000), atol=1e-9)
    assert np.abs(p_ours - ref.p_sim).max() < 0.1
    assert np.corrcoef(p_ours, ref.p_sim)[0, 1] > 0.95
    assert abs(p_ours.mean() - ref.p_sim.mean()) < 0.02


def test_conditional_permutation_counts_match_brute_force():
    rng = np.random.default_rng(3)
    n = 40
    y = rng.poisson(2.0, n).astype(float)
    n_others = rng.integers(0, 6, n)
    n_others[0] = 5  # the draws' width is the largest neighbour count plus one
    observed = rng.integers(0, 15, n).astype(float)
    observed[n_others == 0] = 0  # an island's neighbour sum is empty
    n_ge, n_le = crand.conditional_permutation_counts(
        y, n_others, observed, 200, np.random.default_rng(9)
    )
    # The same draws, used the slow way: cell i's neighbours are the first c draws,
    # with i itself (if drawn) replaced by draw c.
    draws = crand._sample_rows_without_replacement(np.random.default_rng(9), n, 6, 200)
    for i in range(n):
        c = n_others[i]
        sums = []
        for row in draws:
            chosen = [r for r in row[: c + 1] if r != i][:c]
            sums.append(y[chosen].sum())
        sums = np.array(sums)
        assert n_ge[i] == (sums >= observed[i]).sum()
        assert n_le[i] == (sums <= observed[i]).sum()


def test_conditional_permutation_counts_converge_to_exact_distribution():
    rng = np.random.default_rng(4)
    n = 12
    y = rng.poisson(1.5, n).astype(float)
    n_others = rng.integers(1, 5, n)
    observed = rng.integers(0, 8, n).astype(float)
    upper, lower = crand.exact_conditional_tails(y, n_others, observed)
    permutations = 40_000
    n_ge, n_le = crand.conditional_permutation_counts(
        y, n_others, observed, permutations, np.random.default_rng(5)
    )
    # Five Monte Carlo standard deviations at most (sd <= 0.5 / sqrt(40000) = 0.0025).
    np.testing.assert_allclose(n_ge / permutations, upper, atol=0.0125)
    np.testing.assert_allclose(n_le / permutations, lower, atol=0.0125)


def test_sampling_without_replacement_is_distinct_and_uniform():
    rng = np.random.default_rng(0)
    for population, k in [(1000, 8), (10, 9)]:
        draws = crand._sample_rows_without_replacement(rng, population, k, 20000)
        assert draws.shape == (20000, k)
        assert all(len(set(row)) == k for row in draws[:500].tolist())
        counts = np.bincount(draws[:, 0], minlength=population)
        expected = 20000 / population
        assert stats.chisquare(counts, np.full(population, expected)).pvalue > 1e-4


def test_exact_p_values_match_enumeration():
    rng = np.random.default_rng(4)
    y = rng.poisson(1.5, 9).astype(float)
    n_others = np.array([2, 3, 1, 0, 2, 3, 2, 1, 3])
    observed = np.array([2, 3, 1, 0, 0, 5, 1, 2, 4], dtype=float)
    upper, lower = crand.exact_conditional_tails(y, n_others, observed)
    for i in range(9):
        others = np.delete(y, i)
        sums = np.array([sum(c) for c in itertools.combinations(others, n_others[i])])
        assert upper[i] == pytest.approx((sums >= observed[i]).mean(), abs=1e-12)
        assert lower[i] == pytest.approx((sums <= observed[i]).mean(), abs=1e-12)


def test_exact_p_values_are_the_permutation_limit(borough_grid):
    grid, mask = borough_grid
    y = np.random.default_rng(8).poisson(1.5, grid.shape)
    gi = gistar.getis_ord_gi_star(y, mask=mask, permutations=4999, seed=2, exact=True)
    diff = gi.p_exact[mask] - gi.p_sim_two_sided[mask]
    # Monte Carlo sd of a two-sided p is at most 2 * 0.5 / sqrt(4999) = 0.014.
    assert np.abs(diff).max() < 0.08
    assert abs(diff.mean()) < 0.01


def test_exact_p_values_refused_for_non_integer_values():
    y = np.random.default_rng(1).random((6, 6))
    assert gistar.getis_ord_gi_star(y).p_exact is None
    with pytest.raises(ValueError, match="integer"):
        gistar.getis_ord_gi_star(y, exact=True)


# --------------------------------------------------------------------------------- FDR

# Benjamini & Hochberg (1995), section 4: 15 p-values; at q = 0.05 the first four are
# rejected.
BH_EXAMPLE = np.array(
    [
        0.0001,
        0.0004,
        0.0019,
        0.0095,
        0.0201,
        0.0278,
        0.0298,
        0.0344,
        0.0459,
        0.3240,
        0.4262,
        0.5719,
        0.6528,
        0.7590,
        1.0000,
    ]
)


def _textbook_bh(p: np.ndarray, alpha: float) -> np.ndarray:
    m = p.size
    order = np.argsort(p)
    k_max = 0
    for k in range(1, m + 1):
        if p[order[k - 1]] <= k * alpha / m:
            k_max = k
    reject = np.zeros(m, dtype=bool)
    reject[order[:k_max]] = True
    return reject


def test_bh_known_answer_from_the_paper():
    rejected = significance.fdr_reject(BH_EXAMPLE, 0.05)
    np.testing.assert_array_equal(np.flatnonzero(rejected), [0, 1, 2, 3])


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.10, 0.2])
def test_bh_matches_textbook_procedure_and_scipy(alpha):
    rng = np.random.default_rng(int(alpha * 100))
    p = np.concatenate([rng.uniform(0, 0.002, 20), rng.uniform(0, 1, 200)])
    rng.shuffle(p)
    np.testing.assert_array_equal(significance.fdr_reject(p, alpha), _textbook_bh(p, alpha))
    np.testing.assert_allclose(
        significance.benjamini_hochberg(p),
        stats.false_discovery_control(p, method="bh"),
        atol=1e-15,
    )
    np.testing.assert_allclose(
        significance.benjamini_hochberg(BH_EXAMPLE),
        stats.false_discovery_control(BH_EXAMPLE, method="bh"),
        atol=1e-15,
    )


def test_bh_ignores_nan_cells():
    p = np.array([[0.001, np.nan], [0.04, 0.5]])
    q = significance.benjamini_hochberg(p)
    assert np.isnan(q[0, 1])
    np.testing.assert_allclose(q[~np.isnan(p)], stats.false_discovery_control([0.001, 0.04, 0.5]))


def test_classification_levels_and_labels():
    # Ten tests: BH thresholds for rank k are k * alpha / 10.
    z = np.array([5.0, -5.0, 3.0, 2.0, 1.0, 0.5, -0.5, 0.1, 0.2, np.nan])
    p = np.array([0.0001, 0.0002, 0.004, 0.02, 0.3, 0.6, 0.6, 0.9, 0.95, np.nan])
    gi_bin, labels, q = significance.classify_hotspots(z, p)
    # q = [0.0009, 0.0009, 0.012, 0.045, 0.54, ...] with m = 9 tests.
    np.testing.assert_allclose(q[:4], [0.0009, 0.0009, 0.012, 0.045])
    assert labels.tolist() == [
        "hot-99",
        "cold-99",
        "hot-95",
        "hot-95",
        "not-significant",
        "not-significant",
        "not-significant",
        "not-significant",
        "not-significant",
        "outside",
    ]
    np.testing.assert_array_equal(gi_bin, [3, -3, 2, 2, 0, 0, 0, 0, 0, 0])
    raw_bin, _, _ = significance.classify_hotspots(z, p, fdr=False)
    np.testing.assert_array_equal(raw_bin, [3, -3, 3, 2, 0, 0, 0, 0, 0, 0])


# --------------------------------------------------------------- planted hotspot / noise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_catford_cluster_is_found(seed):
    rng = np.random.default_rng(seed)
    lons, lats = _uniform_points(BOROUGH, 5000, rng)
    clons, clats = _uniform_points(CATFORD, 600, rng)
    result = hotspots.compute_hotspots(np.r_[lons, clons], np.r_[lats, clats], mask=BOROUGH)
    assert result.params["p_source"] == "exact"
    grid = result.grid
    in_catford = grid.mask_from_geometry(CATFORD)
    covered = grid.coverage(CATFORD)
    hot = result.gi_bin > 0
    # Every cell wholly inside Catford is a hot spot at 95 % or more after FDR, and
    # nearly every cell of the town centre is hot.
    assert (result.gi_bin[covered > 0.99] >= 2).all()
    assert hot[in_catford].mean() >= 0.9
    assert not (result.gi_bin[in_catford] < 0).any()
    # Hot cells elsewhere are only those whose neighbourhood reaches into Catford.
    catford_bng = _bng(CATFORD)
    xx, yy = grid.centres()
    distance = shapely.distance(catford_bng, shapely.points(xx[hot], yy[hot]))
    assert distance.max() <= 250
    # The esda-compatible analytical p-values find it too.
    analytical = hotspots.compute_hotspots(
        np.r_[lons, clons], np.r_[lats, clats], mask=BOROUGH, p_source="analytical"
    )
    assert (analytical.gi_bin[in_catford] >= 2).all()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_uniform_noise_has_no_hotspots(seed):
    rng = np.random.default_rng(100 + seed)
    lons, lats = _uniform_points(BOROUGH, 5000, rng)
    result = hotspots.compute_hotspots(lons, lats, mask=BOROUGH)
    assert not (np.abs(result.gi_bin) >= 2).any(), result.label_counts()
    assert result.params["n_points_off_grid"] == 0
    assert result.params["n_points"] == 5000


def test_planted_cluster_with_permutations():
    rng = np.random.default_rng(0)
    lons, lats = _uniform_points(BOROUGH, 5000, rng)
    clons, clats = _uniform_points(CATFORD, 600, rng)
    result = hotspots.compute_hotspots(
        np.r_[lons, clons],
        np.r_[lats, clats],
        mask=BOROUGH,
        permutations=9999,
        seed=3,
        p_source="permutation",
    )
    assert result.params["p_source"] == "permutation"
    in_catford = result.grid.mask_from_geometry(CATFORD)
    assert (result.gi_bin[in_catford] > 0).mean() >= 0.8
    assert result.p_sim is not None
    assert result.p_sim_two_sided is not None


def test_compute_hotspots_outputs(borough_grid):
    grid, mask = borough_grid
    rng = np.random.default_rng(1)
    lons, lats = _uniform_points(BOROUGH, 3000, rng)
    clons, clats = _uniform_points(CATFORD, 300, rng)
    result = hotspots.compute_hotspots(
        np.r_[lons, clons, 0.5], np.r_[lats, clats, 51.0], grid=grid, mask=mask
    )
    assert result.counts.shape == grid.shape
    assert result.params["n_points_off_grid"] == 1
    assert np.isnan(result.z[~mask]).all()
    assert (result.labels[~mask] == "outside").all()
    counts = result.label_counts()
    assert sum(counts.values()) == mask.sum()
    features = result.to_features()
    assert len(features) == int((result.gi_bin != 0).sum())
    feature = features[0]
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["label"] != "not-significant"
    with pytest.raises(ValueError, match="grid"):
        hotspots.compute_hotspots(lons, lats, mask=mask)
    with pytest.raises(ValueError, match="permutations"):
        hotspots.compute_hotspots(lons, lats, mask=BOROUGH, p_source="permutation")


# ---------------------------------------------------------------------- kernel density


def test_kde_integrates_to_number_of_points():
    rng = np.random.default_rng(6)
    lons, lats = _uniform_points(BOROUGH, 20000, rng)
    kde = density.kernel_density(lons, lats, bounds=BOROUGH.bounds)
    assert kde.rule.startswith("silverman-2d")
    assert 100 <= kde.bandwidth_m <= 400
    total = kde.density.sum() * kde.grid.cell_area_km2
    assert total == pytest.approx(20000, rel=0.005)
    assert kde.n_points == 20000
    # About 20000 / 35.1 km² = 569 per km² in the interior.
    interior = kde.grid.mask_from_geometry(BOROUGH.buffer(-0.01))
    assert np.median(kde.density[interior]) == pytest.approx(569, rel=0.1)


def test_kde_given_bandwidth_and_peak_at_cluster():
    rng = np.random.default_rng(7)
    clons, clats = _uniform_points(CATFORD, 500, rng)
    kde = density.kernel_density(clons, clats, bandwidth_m=150, cell_size_m=50)
    assert kde.rule == "given"
    assert kde.bandwidth_m == 150
    assert kde.density.sum() * kde.grid.cell_area_km2 == pytest.approx(500, rel=0.005)
    iy, ix = np.unravel_index(np.argmax(kde.density), kde.grid.shape)
    lon, lat = kde.grid.centres_lonlat()
    assert CATFORD.buffer(0.002).contains(shapely.Point(lon[iy, ix], lat[iy, ix]))


def test_silverman_rule_and_clamp():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1000, 10_000)
    y = rng.normal(0, 1000, 10_000)
    h, h_raw = density.silverman_bandwidth(x, y, clamp_m=None)
    assert h == h_raw
    assert h_raw == pytest.approx(1000 * 10_000 ** (-1 / 6), rel=0.03)
    h, h_raw = density.silverman_bandwidth(x[:50], y[:50])
    assert h == 400
    assert h_raw > 400


# ---------------------------------------------------------------- emerging hotspots


def test_mann_kendall_known_answers_and_scipy():
    t = 12
    rising = np.arange(t, dtype=float)
    s, var_s, z, p = emerging.mann_kendall(rising)
    assert s == t * (t - 1) / 2
    assert var_s == t * (t - 1) * (2 * t + 5) / 18
    assert z == pytest.approx((s - 1) / math.sqrt(var_s))
    rng = np.random.default_rng(2)
    series = rng.poisson(3, (t, 50)).astype(float)
    s, var_s, z, p = emerging.mann_kendall(series, continuity=False)
    for j in range(50):
        x = series[:, j]
        naive = sum(np.sign(x[b] - x[a]) for a in range(t) for b in range(a + 1, t))
        assert s[j] == naive
        ref = stats.kendalltau(np.arange(t), x)
        if np.isfinite(ref.pvalue):
            assert p[j] == pytest.approx(ref.pvalue, rel=1e-9)
    constant = emerging.mann_kendall(np.ones((5, 3)))
    np.testing.assert_array_equal(constant[3], 1.0)


def test_emerging_categories():
    rng = np.random.default_rng(12)
    t, ny, nx = 10, 30, 30
    cube = rng.poisson(1.0, (t, ny, nx)).astype(float)
    ramp = np.linspace(0, 1, t)
    blocks = {
        "persistent": ((4, 7), lambda: np.full(t, 8.0)),
        "intensifying": ((4, 20), lambda: 5 + 20 * ramp),
        "diminishing": ((20, 7), lambda: 25 - 20 * ramp),
        "new": ((20, 20), lambda: np.r_[np.zeros(t - 1), 12.0]),
    }
    for (r, c), extra in blocks.values():
        cube[:, r : r + 3, c : c + 3] += extra()[:, None, None]
    result = emerging.emerging_hotspots(cube)
    for name, ((r, c), _) in blocks.items():
        assert result.categories[r + 1, c + 1] == name, (name, result.trend_p[r + 1, c + 1])
    far = result.categories[12:17, 12:17]
    assert (far == "none").all()
    assert result.params["windows_needed"] == 9
    assert result.hot.shape == cube.shape


def test_emerging_respects_mask():
    cube = np.random.default_rng(0).poisson(2.0, (6, 8, 8))
    mask = np.ones((8, 8), bool)
    mask[0] = False
    result = emerging.emerging_hotspots(cube, mask=mask)
    assert (result.categories[0] == "outside").all()
    assert np.isnan(result.trend_z[0]).all()


# ------------------------------------------------------------------------------ time


def test_time_profile_shape_and_bst():
    # 18:30 UTC on Friday 5 July 2024 is 19:30 BST.
    profile = suntimes.time_profile([datetime(2024, 7, 5, 18, 30, tzinfo=UTC)])
    assert profile.shape == (7, 24)
    assert profile.sum() == 1
    assert profile[4, 19] == 1
    # The same instant given with another offset, as numpy UTC, and naive UTC.
    est = timezone(timedelta(hours=-4))
    assert suntimes.time_profile([datetime(2024, 7, 5, 14, 30, tzinfo=est)])[4, 19] == 1
    assert suntimes.time_profile(np.array(["2024-07-05T18:30"], dtype="datetime64[m]"))[4, 19] == 1
    assert suntimes.time_profile([datetime(2024, 7, 5, 18, 30)])[4, 19] == 1
    # Wednesday 10 January 2024 18:30 UTC is 18:30 GMT.
    assert suntimes.time_profile(np.array(["2024-01-10T18:30"], dtype="datetime64[s]"))[2, 18] == 1
    assert suntimes.time_profile(np.array([], dtype="datetime64[s]")).sum() == 0


def test_time_profile_across_clock_changes():
    stamps = np.array(
        [
            "2024-03-31T00:59",  # 00:59 GMT, Sunday
            "2024-03-31T01:00",  # 02:00 BST
            "2024-10-27T00:30",  # 01:30 BST
            "2024-10-27T01:30",  # 01:30 GMT (the repeated hour)
            "2024-10-27T02:30",  # 02:30 GMT
        ],
        dtype="datetime64[m]",
    )
    profile = suntimes.time_profile(stamps)
    assert profile[6, 0] == 1
    assert profile[6, 1] == 2
    assert profile[6, 2] == 2


@pytest.mark.parametrize(
    ("stamp", "local_hour"),
    [
        ("2024-03-31T00:59", 0),  # 00:59 GMT
        ("2024-03-31T01:00", 2),  # 02:00 BST
        ("2024-10-27T00:30", 1),  # 01:30 BST
        ("2024-10-27T01:30", 1),  # 01:30 GMT, the repeated hour
        ("2024-10-27T02:30", 2),  # 02:30 GMT
    ],
)
def test_time_profile_of_many_reports_reads_the_clock_changes_the_same(stamp, local_hour):
    # Enough stamps over the year that offsets come from a table of its every hour.
    wednesday_noon = np.full(20_000, np.datetime64("2024-06-12T11:00", "s"))
    stamps = np.concatenate([[np.datetime64(stamp, "s")], wednesday_noon])
    profile = suntimes.time_profile(stamps)
    assert profile[6, local_hour] == 1
    assert profile[2, 12] == 20_000
    assert profile.sum() == 20_001


@pytest.mark.parametrize(
    ("day", "sunrise", "sunset"),
    [
        # Published London times (timeanddate.com / HM Nautical Almanac), in UTC:
        # 21 June 2024 04:43 / 21:21 BST, 21 December 2024 08:04 / 15:53 GMT.
        ("2024-06-21", "03:43", "20:21"),
        ("2024-12-21", "08:04", "15:53"),
        # Equinox-ish: 20 March 2025 06:03 / 18:14 GMT.
        ("2025-03-20", "06:03", "18:14"),
    ],
)
def test_sun_times_match_published_london_times(day, sunrise, sunset):
    # Central London (51.5072, -0.1276); Lewisham differs by under a minute.
    rise, set_ = suntimes.sun_times(
        np.array([day], dtype="datetime64[D]"), lat=51.5072, lon=-0.1276
    )
    for got, want in ((rise[0], sunrise), (set_[0], sunset)):
        expected = np.datetime64(f"{day}T{want}")
        assert abs((got - expected) / np.timedelta64(1, "s")) <= 120, (got, expected)
    rise_l, set_l = suntimes.sun_times(np.array([day], dtype="datetime64[D]"))
    assert abs((rise_l[0] - rise[0]) / np.timedelta64(1, "s")) < 60
    assert abs((set_l[0] - set_[0]) / np.timedelta64(1, "s")) < 60


def test_after_dark_known_answers():
    stamps = np.array(
        [
            "2024-06-21T20:30",  # 21:30 BST, after the 21:21 sunset
            "2024-06-21T20:00",  # 21:00 BST, still light
            "2024-06-21T03:30",  # 04:30 BST, before sunrise
            "2024-06-21T23:30",  # 00:30 BST on the 22nd
            "2024-12-21T16:10",  # 16:10 GMT, after the 15:53 sunset
            "2024-12-21T12:00",  # midday
            "2024-12-21T08:30",  # after sunrise
            "2024-12-21T07:45",  # before sunrise
        ],
        dtype="datetime64[m]",
    )
    expected = [True, False, True, True, True, False, False, True]
    np.testing.assert_array_equal(suntimes.after_dark(stamps), expected)
    aware = [datetime(2024, 12, 21, 17, 0, tzinfo=suntimes.LONDON)]
    np.testing.assert_array_equal(suntimes.after_dark(aware), [True])
    # Civil twilight: 15 minutes after sunset it is still light enough.
    civil = suntimes.after_dark(
        np.array(["2024-12-21T16:10"], dtype="datetime64[m]"), zenith_deg=96
    )
    np.testing.assert_array_equal(civil, [False])


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2060, 12, 31),
        timezones=st.sampled_from([UTC, suntimes.LONDON, timezone(timedelta(hours=-5))]),
    )
)
def test_one_instant_after_dark_agrees_with_the_array_version(instant):
    assert suntimes.is_after_dark(instant) == bool(suntimes.after_dark([instant])[0])


def test_emerging_with_exact_p_values_finds_no_new_hot_spots_in_sparse_noise():
    # One or two reports per window and cell: the normal approximation calls many of them
    # "new" hot spots; the exact conditional-randomisation p-values call none.
    cube = (np.random.default_rng(3).random((6, 40, 40)) < 0.01).astype(float)
    analytical = emerging.emerging_hotspots(cube, min_count=0, min_cell_count=0)
    exact = emerging.emerging_hotspots(cube, p_source="auto", min_count=0, min_cell_count=0)
    assert (analytical.categories == "new").sum() > 10
    assert (exact.categories == "new").sum() == 0
    assert exact.params["p_source"] == "auto"


def test_one_report_in_a_window_is_never_a_new_hot_spot():
    # The same sparse noise under the board's minimum counts: whatever the p-values, a cell
    # needs two reports of its own and five around it to be hot in a window.
    cube = (np.random.default_rng(3).random((6, 40, 40)) < 0.01).astype(float)
    result = emerging.emerging_hotspots(cube)
    assert (result.categories == "new").sum() == 0
    assert result.params["min_count"] == significance.MIN_NEIGHBOURHOOD_COUNT


def test_emerging_with_exact_p_values_still_finds_planted_trends():
    rng = np.random.default_rng(12)
    t = 10
    cube = rng.poisson(1.0, (t, 30, 30)).astype(float)
    cube[:, 4:7, 7:10] += 8.0
    cube[:, 20:23, 20:23] += np.r_[np.zeros(t - 1), 12.0][:, None, None]
    result = emerging.emerging_hotspots(cube, p_source="auto")
    assert result.categories[5, 8] == "persistent"
    assert result.categories[21, 21] == "new"
    with pytest.raises(ValueError, match="p_source"):
        emerging.emerging_hotspots(cube, p_source="exact")  # type: ignore[arg-type]


# ------------------------------------------------------------------------ correlation


def test_rank_correlation_known_answer():
    # d = (-1, 1, -1, 1, 0): rho = 1 - 6 * 4 / (5 * 24) = 0.8; t = 2.3094 on 3 d.f.
    result = correlation.rank_correlation([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert result.rho == pytest.approx(0.8)
    assert result.p == pytest.approx(0.1040880, rel=1e-6)
    assert result.n == 5


def test_rank_correlation_matches_scipy_with_ties_and_drops_missing_pairs():
    x = [3, 1, 4, 1, 5, 9, 2, 6, np.nan, 5]
    y = [2, 7, 1, 8, 2, 8, 1, 8, 2, np.nan]
    result = correlation.rank_correlation(x, y)
    reference = stats.spearmanr(x[:8], y[:8])
    assert result.n == 8
    assert result.rho == pytest.approx(reference.statistic)
    assert result.p == pytest.approx(reference.pvalue)


def test_rank_correlation_is_undefined_for_constant_or_tiny_series():
    assert math.isnan(correlation.rank_correlation([1, 1, 1, 1], [1, 2, 3, 4]).rho)
    assert math.isnan(correlation.rank_correlation([1, 2], [2, 1]).p)
    with pytest.raises(ValueError, match="same length"):
        correlation.rank_correlation([1, 2, 3], [1, 2])
