"""Significance on sparse counts: a handful of reports is never a hot spot, the p the board
reports is the conditional-randomisation one (checked against esda's p_sim), and each label
has plain words."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import crand, gistar, hotspots, projection, significance
from geo.grid import Grid

BOROUGH = projection.read_boundary()
GRID = Grid.covering(BOROUGH.bounds, 100)
MASK = GRID.mask_from_geometry(BOROUGH)
ROWS, COLS = np.nonzero(MASK)


def _points(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Report locations at the centres of the cells, as many as each cell's count."""
    ys, xs = np.nonzero(counts)
    repeat = np.repeat(np.arange(ys.size), counts[ys, xs])
    x = GRID.x0 + (xs[repeat] + 0.5) * GRID.cell_size
    y = GRID.y0 + (ys[repeat] + 0.5) * GRID.cell_size
    return projection.to_lonlat(x, y)


def _sparse_grid() -> tuple[np.ndarray, tuple[int, int]]:
    """Eight reports in the borough: four scattered, four in a tight corner (1, 2, 1)."""
    counts = np.zeros(GRID.shape, dtype=np.int64)
    pick = np.random.default_rng(3).choice(ROWS.size, 4, replace=False)
    counts[ROWS[pick], COLS[pick]] = 1
    r, c = int(ROWS[1500]), int(COLS[1500])
    counts[r, c] = 1
    counts[r, c + 1] = 2
    counts[r + 1, c] = 1
    return counts, (r, c)


def test_a_few_reports_together_were_hot_spots_and_are_no_longer():
    counts, (r, c) = _sparse_grid()
    lons, lats = _points(counts)
    before = hotspots.compute_hotspots(
        lons, lats, grid=GRID, mask=MASK, min_count=0, min_cell_count=0
    )
    # The finding: with the exact conditional p-values alone, a cell holding one report
    # is a hot spot (z > 20) and an empty cell beside it reaches 99 %. Under spatial
    # randomness four reports this close together are genuinely improbable (p ~ 1e-7),
    # so FDR control does not remove them; what is wrong is calling four reports a place.
    assert before.params["p_source"] == "exact"
    assert before.counts[r, c] == 1
    assert before.gi_bin[r, c] >= 2
    assert before.z[r, c] > 20
    assert before.label_counts().get("hot-99", 0) >= 1

    after = hotspots.compute_hotspots(lons, lats, grid=GRID, mask=MASK)
    assert after.params["min_count"] == significance.MIN_NEIGHBOURHOOD_COUNT == 5
    assert after.label_counts() == {"not-significant": int(MASK.sum())}
    # The p and z are still there for analysts, and the p is the one the labels used.
    np.testing.assert_array_equal(after.p_used, after.p_exact)
    assert after.z[r, c] == before.z[r, c]


def test_permutation_p_values_are_powerless_on_the_same_sparse_grid():
    # esda's p_sim semantics with 999 permutations: the smallest two-sided p is 0.002, so
    # after FDR over 3,500 cells nothing on the sparse grid is significant either.
    counts, _ = _sparse_grid()
    lons, lats = _points(counts)
    result = hotspots.compute_hotspots(
        lons,
        lats,
        grid=GRID,
        mask=MASK,
        permutations=999,
        seed=1,
        p_source="permutation",
        min_count=0,
        min_cell_count=0,
    )
    assert result.label_counts() == {"not-significant": int(MASK.sum())}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scattered=st.integers(0, 60),
    cluster=st.lists(st.integers(0, 3), min_size=9, max_size=9),
    seed=st.integers(0, 2**16),
)
def test_a_neighbourhood_of_fewer_than_five_reports_is_never_a_hot_spot(scattered, cluster, seed):
    counts = np.zeros(GRID.shape, dtype=np.int64)
    rng = np.random.default_rng(seed)
    pick = rng.choice(ROWS.size, scattered, replace=False)
    counts[ROWS[pick], COLS[pick]] += 1
    r, c = int(ROWS[1500]), int(COLS[1500])
    counts[r - 1 : r + 2, c - 1 : c + 2] += np.array(cluster).reshape(3, 3)
    lons, lats = _points(counts)
    result = hotspots.compute_hotspots(lons, lats, grid=GRID, mask=MASK)
    hot = result.gi_bin > 0
    lag = gistar.getis_ord_gi_star(counts, mask=MASK, exact=False).lag
    assert (lag[hot] >= 5).all()
    # And no cell holding one report (or none) is a hot spot, whatever is around it.
    assert (counts[hot] >= 2).all()
    # Cold spots need five expected reports per neighbourhood: impossible this sparse.
    assert not (result.gi_bin < 0).any()


def test_a_cell_with_one_report_beside_busy_cells_is_not_a_hot_spot():
    counts = np.zeros(GRID.shape, dtype=np.int64)
    pick = np.random.default_rng(4).choice(ROWS.size, 60, replace=False)
    counts[ROWS[pick], COLS[pick]] = 1
    r, c = int(ROWS[1500]), int(COLS[1500])
    counts[r, c] = 12
    counts[r + 1, c] = 10
    counts[r, c + 1] = 1
    lons, lats = _points(counts)
    halo = hotspots.compute_hotspots(lons, lats, grid=GRID, mask=MASK, min_cell_count=0)
    # Why one report became a hot spot: the conditional test keeps a cell's own count fixed
    # and asks only whether its neighbours are unusual. The one-report cell has both busy
    # cells as neighbours (very unusual); each busy cell has only the other (one cell in
    # 3,500 drawn by chance: not unusual enough after FDR).
    assert halo.labels[r, c + 1] == "hot-99"
    assert halo.labels[r, c] == halo.labels[r + 1, c] == "not-significant"
    result = hotspots.compute_hotspots(lons, lats, grid=GRID, mask=MASK)
    assert result.params["min_cell_count"] == significance.MIN_CELL_COUNT == 2
    assert result.labels[r, c + 1] == "not-significant"
    assert not (result.counts[result.gi_bin > 0] < 2).any()


def test_a_cluster_over_several_cells_is_still_found():
    counts = np.zeros(GRID.shape, dtype=np.int64)
    pick = np.random.default_rng(5).choice(ROWS.size, 60, replace=False)
    counts[ROWS[pick], COLS[pick]] = 1
    r, c = int(ROWS[1500]), int(COLS[1500])
    counts[r - 1 : r + 2, c - 1 : c + 2] += 3
    lons, lats = _points(counts)
    result = hotspots.compute_hotspots(lons, lats, grid=GRID, mask=MASK)
    assert result.labels[r, c] == "hot-99"
    assert (result.gi_bin[r - 1 : r + 2, c - 1 : c + 2] > 0).all()


def test_min_count_rules_in_classification():
    direction = np.array([1.0, 1.0, -1.0, -1.0, 0.0])
    p = np.array([1e-6, 1e-6, 1e-6, 1e-6, 0.5])
    observed = np.array([5, 4, 0, 0, 3])
    expected = np.array([1.0, 1.0, 5.0, 4.9, 1.0])
    gi_bin, labels, q = significance.classify_hotspots(
        direction, p, observed=observed, expected=expected, min_count=5
    )
    np.testing.assert_array_equal(gi_bin, [3, 0, -3, 0, 0])
    assert labels.tolist() == ["hot-99", "not-significant", "cold-99", *["not-significant"] * 2]
    # BH ran over every cell before the rule: the q-values do not depend on it.
    np.testing.assert_allclose(q, significance.benjamini_hochberg(p))
    with pytest.raises(ValueError, match="observed"):
        significance.classify_hotspots(direction, p, min_count=5)
    own = np.array([2, 1, 0, 0, 0])
    gi_bin, _, _ = significance.classify_hotspots(direction, p, cell_count=own, min_cell_count=2)
    np.testing.assert_array_equal(gi_bin, [3, 0, -3, -3, 0])
    with pytest.raises(ValueError, match="cell counts"):
        significance.classify_hotspots(direction, p, min_cell_count=2)


@pytest.mark.parametrize("label", list(significance.PLAIN_WORDS))
def test_every_label_has_plain_words(label):
    words = significance.plain_words(label)
    assert words and "z" not in words.split()
    if label.startswith("hot"):
        assert "More" in words or "more" in words
        assert f"({label[-2:]} %)" in words
    if label.startswith("cold"):
        assert "ewer" in words
        assert f"({label[-2:]} %)" in words


def test_plain_words_refuses_unknown_labels():
    with pytest.raises(ValueError, match="unknown"):
        significance.plain_words("lukewarm")


def test_sparse_p_sim_matches_esda_and_the_exact_limit():
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    # Sparse counts, where the normal approximation fails: about 0.1 reports per cell,
    # with a planted group, on the borough grid with queen neighbours.
    rng = np.random.default_rng(11)
    counts = np.where(MASK, rng.poisson(0.1, GRID.shape), 0)
    r, c = int(ROWS[1500]), int(COLS[1500])
    counts[r - 1 : r + 2, c - 1 : c + 2] += rng.poisson(1.5, (3, 3))
    # A border of unanalysed cells keeps every neighbour look-up inside the array.
    padded = np.pad(MASK, 1)
    index = -np.ones(padded.shape, dtype=int)
    index[padded] = np.arange(MASK.sum())
    neighbours = {}
    for k, (i, j) in enumerate(zip(ROWS, COLS, strict=True)):
        neighbours[k] = [
            int(index[i + 1 + di, j + 1 + dj])
            for di in (-1, 0, 1)
            for dj in (-1, 0, 1)
            if (di, dj) != (0, 0) and padded[i + 1 + di, j + 1 + dj]
        ]
    w = libpysal.weights.W(neighbours, silence_warnings=True)
    with warnings.catch_warnings():
        # esda 2.x warns that its permutation alternative will change; not relevant here.
        warnings.simplefilter("ignore")
        ref = esda.G_Local(
            counts[MASK].astype(float),
            w,
            transform="B",
            star=True,
            permutations=999,
            seed=1,
            n_jobs=1,
        )
    ours = gistar.getis_ord_gi_star(counts, mask=MASK, permutations=999, seed=1, exact=True)
    y = counts[MASK].astype(float)
    card = ours.cardinality[MASK]
    upper, lower = crand.exact_conditional_tails(y, card - 1, ours.lag[MASK] - y)
    # Monte Carlo sd of a folded p at 999 permutations is at most 0.016; the largest of
    # 3,500 deviations stays under 5 sd.
    assert np.abs(ours.p_sim[MASK] - ref.p_sim).max() < 0.08
    # esda's p_sim estimates min(P(S >= obs), P(S < obs)) (its ties count as "larger"),
    # whose limit the exact tails give; islands aside, they agree within the same error.
    limit = np.minimum(upper, 1 - upper)
    connected = card > 1
    assert np.abs(ref.p_sim[connected] - limit[connected]).max() < 0.08
    # And the board's two-sided p is the exact limit of our tie-aware p_sim.
    np.testing.assert_allclose(ours.p_exact[MASK], np.minimum(1, 2 * np.minimum(upper, lower)))
    assert np.abs(ours.p_exact[MASK] - ours.p_sim_two_sided[MASK]).max() < 0.1


def test_the_conditional_choice_never_falls_back_to_the_normal_approximation():
    counts, _ = _sparse_grid()
    lons, lats = _points(counts)
    small = hotspots.compute_hotspots(lons, lats, grid=GRID, mask=MASK, p_source="conditional")
    assert small.params["p_source"] == "exact"
    # Counts too large for the exact computation: permutations, or a refusal without them.
    # A strip of the grid keeps the number of points modest.
    strip_mask = MASK & (np.arange(GRID.shape[1]) < 12)[None, :]
    big = np.where(strip_mask, np.random.default_rng(2).integers(100, 400, GRID.shape), 0)
    lons, lats = _points(big)
    strip = {"grid": GRID, "mask": strip_mask}
    used = hotspots.compute_hotspots(
        lons, lats, **strip, p_source="conditional", permutations=99, seed=1
    )
    assert used.params["p_source"] == "permutation"
    with pytest.raises(ValueError, match="conditional"):
        hotspots.compute_hotspots(lons, lats, **strip, p_source="conditional")
