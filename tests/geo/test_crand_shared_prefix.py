"""The exact conditional tails, built from shared tables, are the straightforward ones up to
rounding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from geo import crand


def straightforward(y, n_others, observed_others):
    """Each focal value's table built from scratch (the definition)."""
    n = y.size
    yi = np.rint(y).astype(np.int64)
    values, inverse, hist = np.unique(yi, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    j_max = int(n_others.max(initial=0))
    upper, lower = np.ones(n), np.ones(n)
    s_max = j_max * int(values[-1])
    log_total = (
        special.gammaln(n) - special.gammaln(np.arange(j_max + 1) + 1.0)
    ) - special.gammaln(n - np.arange(j_max + 1.0))
    obs = np.rint(observed_others).astype(np.int64)
    for k in np.unique(inverse[n_others > 0]).tolist():
        h = hist.copy()
        h[k] -= 1
        table = np.zeros((j_max + 1, s_max + 1))
        table[0, 0] = 1.0
        for v, hv in zip(values.tolist(), h.tolist(), strict=True):
            if hv == 0:
                continue
            new = table.copy()
            for a in range(1, min(hv, j_max) + 1):
                shift = a * v
                if shift > s_max:
                    break
                new[a:, shift:] += special.comb(hv, a) * table[: j_max + 1 - a, : s_max + 1 - shift]
            table = new
        prob = table * np.exp(-log_total)[:, None]
        at_least = np.cumsum(prob[:, ::-1], axis=1)[:, ::-1]
        at_most = np.cumsum(prob, axis=1)
        cells = np.flatnonzero((inverse == k) & (n_others > 0))
        upper[cells] = np.minimum(at_least[n_others[cells], obs[cells]], 1.0)
        lower[cells] = np.minimum(at_most[n_others[cells], obs[cells]], 1.0)
    return upper, lower


@pytest.mark.parametrize("seed", range(6))
def test_the_shared_tables_give_the_straightforward_tails(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    # Sparse and clustered counts, with values that occur once (their own table empty).
    y = rng.poisson(rng.choice([0.2, 2.0, 15.0]), size=n).astype(np.float64)
    y[rng.integers(0, n)] = 60.0
    n_others = rng.integers(0, 9, size=n)
    observed = np.array(
        [
            y[rng.choice(np.delete(np.arange(n), i), size=c, replace=False)].sum()
            for i, c in enumerate(n_others.tolist())
        ]
    )
    result = crand.exact_conditional_tails(y, n_others, observed, cost_limit=1e12)
    assert result is not None
    expected = straightforward(y, n_others, observed)
    np.testing.assert_allclose(result[0], expected[0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(result[1], expected[1], rtol=1e-12, atol=0)
