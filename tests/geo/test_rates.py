"""Tests for geo.rates: ward populations, rates per 1,000 and empirical Bayes smoothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo import DATA_DIR, rates


def test_ward_population_covers_the_19_wards_and_the_2011_borough():
    population = rates.read_ward_population()
    wards = json.loads((DATA_DIR / "lewisham_wards_2022.geojson").read_text())["features"]
    assert set(population) == {w["properties"]["WD22CD"] for w in wards}
    assert sum(population.values()) == 275_885
    assert population["E05013714"] == 10_627  # Bellingham


def test_rate_per_1000_known_answer():
    np.testing.assert_allclose(rates.rate_per_1000([10, 0, 3], [10_000, 500, 1_500]), [1, 0, 2])


def _esda_eb(counts, population):
    smoothing = pytest.importorskip("esda.smoothing")
    return 1000 * smoothing.Empirical_Bayes(np.asarray(counts), np.asarray(population)).r.ravel()


def test_empirical_bayes_matches_esda_on_lewisham_wards():
    population = np.array(list(rates.read_ward_population().values()))
    counts = np.random.default_rng(5).poisson(population * np.linspace(0.002, 0.02, 19))
    ours = rates.empirical_bayes_per_1000(counts, population)
    np.testing.assert_allclose(ours, _esda_eb(counts, population), rtol=1e-12)
    # Shrinkage: each smoothed rate lies between the raw rate and the borough rate.
    raw = rates.rate_per_1000(counts, population)
    borough = 1000 * counts.sum() / population.sum()
    assert (np.minimum(raw, borough) - 1e-9 <= ours).all()
    assert (ours <= np.maximum(raw, borough) + 1e-9).all()


def test_empirical_bayes_gives_the_borough_rate_when_wards_vary_no_more_than_noise():
    population = np.array([10_000, 12_000, 8_000, 15_000])
    counts = np.array([10, 12, 8, 15])
    np.testing.assert_allclose(rates.empirical_bayes_per_1000(counts, population), 1.0)
    assert (rates.empirical_bayes_per_1000([0, 0], [100, 200]) == 0).all()


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(1, 30_000)), min_size=1, max_size=25))
def test_raw_rates_average_to_the_borough_rate_and_smoothing_only_shrinks(rows):
    counts = np.array([r[0] for r in rows])
    population = np.array([r[1] for r in rows])
    raw = rates.rate_per_1000(counts, population)
    smoothed = rates.empirical_bayes_per_1000(counts, population)
    assert np.isfinite(smoothed).all() and (smoothed >= 0).all()
    borough = 1000 * counts.sum() / population.sum()
    assert (raw * population).sum() / population.sum() == pytest.approx(borough, rel=1e-9)
    # Each smoothed rate lies between its raw rate and the borough rate.
    assert (np.minimum(raw, borough) - 1e-9 <= smoothed).all()
    assert (smoothed <= np.maximum(raw, borough) + 1e-9).all()


@pytest.mark.parametrize(
    ("counts", "population"),
    [([1, 2], [10]), ([1], [0]), ([-1], [10]), ([[1]], [[10]]), ([np.nan], [10])],
)
def test_bad_rate_inputs_are_refused(counts, population):
    with pytest.raises(ValueError, match="must"):
        rates.rate_per_1000(counts, population)
    with pytest.raises(ValueError, match="must"):
        rates.empirical_bayes_per_1000(counts, population)
