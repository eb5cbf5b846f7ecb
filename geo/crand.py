"""Conditional randomisation for Gi*: exact conditional tails for small counts and
conditional permutations (esda's ``p_sim``)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray
from scipy import special

# Upper bound on the element operations of the exact computation (about 0.13 s on the
# 2-core machines); above it counts are large, where the normal approximation is good. The
# nightly runs compute a dozen windows for each of twenty runs, so this bounds their night.
EXACT_COST_LIMIT = 1.5e8


def exact_conditional_tails(
    y: NDArray[np.float64],
    n_others: NDArray[np.int64],
    observed_others: NDArray[np.float64],
    cost_limit: float = EXACT_COST_LIMIT,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Exact ``P(S >= obs)`` and ``P(S <= obs)`` under conditional randomisation.

    ``S`` is the sum of ``n_others[i]`` values drawn without replacement from ``y``
    without element ``i``. Returns None when ``y`` is not made of non-negative integers
    or when the computation would exceed ``cost_limit`` element operations.
    """
    if y.size == 0 or (y < 0).any() or (y != np.rint(y)).any():
        return None
    n = y.size
    yi = np.rint(y).astype(np.int64)
    values, inverse, hist = np.unique(yi, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    j_max = int(n_others.max(initial=0))
    upper = np.ones(n)
    lower = np.ones(n)
    if j_max == 0:
        return upper, lower
    s_max = j_max * int(values[-1])
    # Only focal values of cells that have neighbours need their own table.
    focal = np.zeros(values.size, dtype=bool)
    focal[inverse[n_others > 0]] = True
    additions = values.size * max(1, math.ceil(math.log2(values.size)))
    if float(additions) * j_max * (j_max + 1) * (s_max + 1) > cost_limit:
        return None
    log_total = (
        special.gammaln(n) - special.gammaln(np.arange(j_max + 1) + 1.0)
    ) - special.gammaln(n - np.arange(j_max + 1.0))
    ways = np.exp(-log_total)[:, None]
    obs = np.rint(observed_others).astype(np.int64)
    for k, table in _LeftOneOut(values.tolist(), hist.tolist(), focal, j_max).tables():
        # Tails are summed from their own end, so small probabilities keep their relative
        # accuracy (no 1 - x cancellation).
        prob = table * ways
        at_least = np.cumsum(prob[:, ::-1], axis=1)[:, ::-1]
        at_most = np.cumsum(prob, axis=1)
        cells = np.flatnonzero((inverse == k) & (n_others > 0))
        c = n_others[cells]
        o = obs[cells]
        upper[cells] = np.minimum(at_least[c, o], 1.0)
        lower[cells] = np.minimum(at_most[c, o], 1.0)
    return upper, lower


class _LeftOneOut:
    """Counting tables of the cell values with one cell of a given value left out.

    Left-one-out tables share most of their factors: building each from scratch adds every
    value to every table (K² additions for K distinct values). Splitting the values in
    halves, adding one half to the table handed down to the other and recursing builds them
    all with about K log₂ K additions. Every addition is of non-negative terms, so the order
    changes the numbers only by rounding.
    """

    def __init__(
        self, values: list[int], counts: list[int], wanted: NDArray[np.bool_], j_max: int
    ) -> None:
        self.values, self.counts = values, counts
        self.j_max, self.s_max = j_max, j_max * values[-1]
        # wanted_before[k]: how many of the first k values need a table.
        self.wanted_before = np.concatenate([[0], np.cumsum(wanted)])
        self.comb = _CombCache()

    def tables(self) -> Iterator[tuple[int, NDArray[np.float64]]]:
        """(k, the table of every cell but one of value ``values[k]``) for each wanted k:
        ``table[j, s]`` is the number of ways to pick ``j`` cells whose values sum to ``s``."""
        empty = np.zeros((self.j_max + 1, self.s_max + 1))
        empty[0, 0] = 1.0
        yield from self._split(empty, 0, len(self.values))

    def _split(
        self, table: NDArray[np.float64], lo: int, hi: int
    ) -> Iterator[tuple[int, NDArray[np.float64]]]:
        if hi - lo == 1:
            yield lo, self._add(table, lo, self.counts[lo] - 1)
            return
        mid = (lo + hi) // 2
        for part, rest in (((lo, mid), range(mid, hi)), ((mid, hi), range(lo, mid))):
            if self.wanted_before[part[1]] == self.wanted_before[part[0]]:
                continue
            with_rest = table
            for k in rest:
                with_rest = self._add(with_rest, k, self.counts[k])
            yield from self._split(with_rest, *part)

    def _add(self, table: NDArray[np.float64], k: int, count: int) -> NDArray[np.float64]:
        return _add_value(table, self.values[k], count, self.j_max, self.s_max, self.comb)


class _CombCache(dict[tuple[int, int], float]):
    """``special.comb(n, k)`` once per ``(n, k)``: the tables ask for the same few thousand
    hundreds of thousands of times."""

    def __missing__(self, key: tuple[int, int]) -> float:
        value = self[key] = float(special.comb(*key))
        return value


def _add_value(
    table: NDArray[np.float64], v: int, hv: int, j_max: int, s_max: int, comb: _CombCache
) -> NDArray[np.float64]:
    """The table after choosing also among ``hv`` cells of value ``v`` (a new array)."""
    if hv == 0:
        return table
    new = table.copy()
    for a in range(1, min(hv, j_max) + 1):
        shift = a * v
        if shift > s_max:
            break
        new[a:, shift:] += comb[hv, a] * table[: j_max + 1 - a, : s_max + 1 - shift]
    return new


def _sample_rows_without_replacement(
    rng: np.random.Generator, population: int, k: int, rows: int
) -> NDArray[np.int64]:
    """Draw ``rows`` independent ordered samples of ``k`` distinct ints from ``[0, population)``."""
    if k == 0:
        return np.empty((rows, 0), dtype=np.int64)
    if k * k <= population:
        # Sampling with replacement and redrawing the rows that repeat a value is exact
        # (each ordered distinct tuple stays equally likely) and, with k*k <= N, fewer
        # than half the rows need a redraw, so it beats shuffling N values per row.
        out = rng.integers(0, population, size=(rows, k), dtype=np.int64)
        while True:
            s = np.sort(out, axis=1)
            bad = (s[:, 1:] == s[:, :-1]).any(axis=1)
            n_bad = int(bad.sum())
            if n_bad == 0:
                return out
            out[bad] = rng.integers(0, population, size=(n_bad, k), dtype=np.int64)
    keys = rng.random((rows, population))
    idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
    # argpartition leaves the k smallest in an arbitrary order; ordering them by key
    # makes every prefix a uniform sample too.
    order = np.argsort(np.take_along_axis(keys, idx, axis=1), axis=1)
    return np.take_along_axis(idx, order, axis=1).astype(np.int64)


def conditional_permutation_counts(
    y: NDArray[np.float64],
    n_others: NDArray[np.int64],
    observed_others: NDArray[np.float64],
    permutations: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Count permuted neighbour sums ``>=`` and ``<=`` the observed ones, per cell.

    One ``(permutations, max c + 1)`` draw ``R`` of distinct indices from ``[0, n)`` is
    shared by all cells. For cell *i* with ``c`` neighbours the random neighbours are
    ``R[p, :c]``, except that when *i* itself is among them it is replaced by
    ``R[p, c]``; by symmetry this is a uniform sample of ``c`` of the other ``n - 1``
    cells, i.e. a conditional randomisation. So cell *i*'s random sum is the row total
    ``T_p = sum(y[R[p, :c]])`` for every permutation except the few where *i* was drawn:
    counting ``T_p >= obs_i`` for all cells is one sort and one binary search per cell,
    and the ``permutations * c`` exceptions are corrected afterwards. The cost is
    ``O(permutations * c + n log permutations)`` instead of ``O(n * permutations * c)``.
    """
    n = y.size
    n_ge = np.zeros(n, dtype=np.int64)
    n_le = np.zeros(n, dtype=np.int64)
    # Islands: the random sum is always 0, as is the observed one.
    n_ge[n_others <= 0] = permutations
    n_le[n_others <= 0] = permutations
    max_c = int(n_others.max(initial=0))
    if max_c == 0:
        return n_ge, n_le
    draws = _sample_rows_without_replacement(rng, n, max_c + 1, permutations)
    drawn = y[draws]
    row_totals = np.cumsum(drawn, axis=1)
    slot = np.full(n, -1, dtype=np.int64)
    for c in np.unique(n_others[n_others > 0]).tolist():
        cells = np.flatnonzero(n_others == c)
        slot[cells] = np.arange(cells.size)
        totals = row_totals[:, c - 1]
        obs = observed_others[cells]
        ordered = np.sort(totals)
        ge = permutations - np.searchsorted(ordered, obs, side="left")
        le = np.searchsorted(ordered, obs, side="right")
        # Permutations where a cell of this group drew itself: swap it for the spare.
        hit_p, hit_j = np.nonzero(slot[draws[:, :c]] >= 0)
        focal = draws[hit_p, hit_j]
        k = slot[focal]
        old = totals[hit_p]
        new = old - y[focal] + drawn[hit_p, c]
        o = obs[k]
        ge += np.bincount(
            k, weights=(new >= o).astype(np.float64) - (old >= o), minlength=cells.size
        ).astype(np.int64)
        le += np.bincount(
            k, weights=(new <= o).astype(np.float64) - (old <= o), minlength=cells.size
        ).astype(np.int64)
        n_ge[cells] = ge
        n_le[cells] = le
        slot[cells] = -1
    return n_ge, n_le
