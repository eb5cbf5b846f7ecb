"""The Getis-Ord Gi* statistic on a grid, with binary weights over a square or circular
neighbourhood that includes the cell itself (the star form), as esda's ``G_Local(star=True)``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage, special

from geo.crand import conditional_permutation_counts, exact_conditional_tails

# --------------------------------------------------------------------------------- Gi*

# Reports spread over a street's or area's cells make fractional counts. The exact
# conditional tails need whole numbers, so fractional counts are tested in tenths of a report
# (rounded to the nearest tenth): Gi*'s z and every conditional p-value are unchanged by
# scaling all counts alike, so tenths are the same test on counts 0.05 at most from the
# true ones. Tenths make the exact computation up to a hundred times dearer; where it would
# pass ``crand.EXACT_COST_LIMIT`` the conditional permutations answer instead.
COUNT_RESOLUTION = 10


def counts_as_tested(counts: ArrayLike) -> tuple[NDArray[np.float64], int]:
    """Counts as Gi* tests them, and the unit they are in (reports per unit).

    Whole counts are returned as they are with unit 1; fractional counts are rounded to
    tenths of a report and returned in tenths, unit `COUNT_RESOLUTION`. Divide sums and
    means of the result by the unit to have reports again.
    """
    values = np.asarray(counts, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if np.array_equal(finite, np.rint(finite)):
        return values, 1
    return np.rint(values * COUNT_RESOLUTION), COUNT_RESOLUTION


def neighbourhood_kernel(
    *,
    cells: int | None = None,
    distance_m: float | None = None,
    cell_size_m: float = 100.0,
) -> NDArray[np.bool_]:
    """Binary neighbourhood footprint, centred on the focal cell (which it includes).

    Parameters
    ----------
    cells : int, optional
        Radius of a square neighbourhood in cells (Chebyshev distance): 1 is queen
        contiguity (3 x 3), 2 is 5 x 5, and so on. Default 1 when ``distance_m`` is not
        given.
    distance_m : float, optional
        Distance band: every cell whose centre lies within ``distance_m`` metres of the
        focal cell's centre (the same cells as ``libpysal.weights.DistanceBand`` on
        cell centres with that threshold).
    cell_size_m : float, default 100
        Cell side, to convert ``distance_m`` to cells.

    Returns
    -------
    ndarray of bool, shape (2r+1, 2r+1)
        True where a cell at that offset is a neighbour; the centre is always True.
    """
    if cells is not None and distance_m is not None:
        raise ValueError("give either cells or distance_m, not both")
    if distance_m is not None:
        if distance_m < 0:
            raise ValueError("distance_m must be non-negative")
        ratio = distance_m / cell_size_m
        r = math.floor(ratio + 1e-9)
        off = np.arange(-r, r + 1)
        d2 = off[:, None] ** 2 + off[None, :] ** 2
        # The relative epsilon keeps a band of exactly sqrt(2) cells from losing the
        # diagonals to rounding.
        return np.asarray(d2 <= ratio * ratio * (1 + 1e-9), dtype=bool)
    r = 1 if cells is None else int(cells)
    if r < 0:
        raise ValueError("cells must be non-negative")
    return np.ones((2 * r + 1, 2 * r + 1), dtype=bool)


@dataclass(frozen=True, eq=False)
class GiStarResult:
    """Per-cell Getis-Ord Gi* results on a grid.

    Attributes
    ----------
    z : ndarray of float64, shape (ny, nx)
        Standardised Gi* (NaN outside the mask). Equal to esda's ``G_Local.Zs``.
    p : ndarray of float64
        Two-sided normal p-value ``2 * (1 - Phi(|z|))``, i.e. twice esda's one-sided
        ``p_norm`` (NaN outside the mask).
    lag : ndarray of float64
        Sum of the values in each cell's neighbourhood, the cell included.
    cardinality : ndarray of int64
        Number of analysed cells in each neighbourhood, the cell included (``W_i*``).
    n : int
        Number of analysed cells.
    mean, std : float
        Mean and population standard deviation of the analysed values.
    permutations : int
        Number of conditional permutations (0 when not run).
    p_sim : ndarray of float64 or None
        esda's folded pseudo p-value ``(min(larger, P - larger) + 1) / (P + 1)`` with
        ``larger`` the number of permuted statistics ``>=`` the observed one.
    p_sim_two_sided : ndarray of float64 or None
        Tie-aware two-sided permutation p-value
        ``min(1, 2 * (min(#{sim >= obs}, #{sim <= obs}) + 1) / (P + 1))``.
    sim_direction : ndarray of int8 or None
        +1 where the observed statistic lies in the upper tail of its permutation
        distribution, -1 in the lower tail, 0 when balanced.
    p_exact : ndarray of float64 or None
        Exact two-sided conditional-randomisation p-value: the limit of
        ``p_sim_two_sided`` as the number of permutations grows, without its
        ``1 / (P + 1)`` floor. Computed for integer values (counts) when affordable.
    exact_direction : ndarray of int8 or None
        +1 where the observed statistic is in the upper tail of its exact conditional
        distribution, -1 in the lower tail, 0 when balanced.
    """

    z: NDArray[np.float64]
    p: NDArray[np.float64]
    lag: NDArray[np.float64]
    cardinality: NDArray[np.int64]
    n: int
    mean: float
    std: float
    permutations: int = 0
    p_sim: NDArray[np.float64] | None = None
    p_sim_two_sided: NDArray[np.float64] | None = None
    sim_direction: NDArray[np.int8] | None = None
    p_exact: NDArray[np.float64] | None = None
    exact_direction: NDArray[np.int8] | None = None


def getis_ord_gi_star(
    values: ArrayLike,
    kernel: ArrayLike | None = None,
    *,
    mask: ArrayLike | None = None,
    permutations: int = 0,
    seed: int | np.random.Generator | None = None,
    exact: bool | None = None,
) -> GiStarResult:
    r"""Getis-Ord local Gi* with binary weights on a grid.

    For analysed cell *i* with neighbourhood :math:`N_i^*` (the cell included, all
    weights 1), :math:`W_i^* = |N_i^*|`, mean :math:`\bar y` and *population* standard
    deviation :math:`s` of the :math:`n` analysed values,

    .. math::

        z_i = \frac{\sum_{j \in N_i^*} y_j - \bar y\, W_i^*}
                   {s \sqrt{\left(n W_i^* - W_i^{*2}\right) / (n - 1)}}

    which is Ord & Getis (1995) eq. (13) and exactly what
    ``esda.G_Local(y, w, transform="B", star=True)`` computes. Neighbourhood sums are a
    2-D correlation of the masked values with the kernel (exact for integer counts).

    Parameters
    ----------
    values : array_like, shape (ny, nx)
        Values per cell, normally counts from `bin_points`.
    kernel : array_like of bool, optional
        Neighbourhood footprint from `neighbourhood_kernel`, odd-sized and centred;
        default queen contiguity (3 x 3). The centre must be set (Gi*, not Gi).
    mask : array_like of bool, shape (ny, nx), optional
        Cells to analyse. Cells outside the mask are excluded from ``n``, from the mean
        and variance, and from every neighbourhood. Default: every cell.
    permutations : int, default 0
        Number of conditional permutations for pseudo p-values (999 is customary).
    seed : int or numpy.random.Generator, optional
        Seed for the permutations.
    exact : bool, optional
        Compute exact conditional-randomisation p-values (``p_exact``). Default: when
        the values are non-negative integers and the computation is affordable
        (roughly: neighbourhood size times largest count stays in the thousands); True
        insists (ValueError when impossible); False skips them.

    Returns
    -------
    GiStarResult

    Notes
    -----
    *Zero variance.* When all analysed values are equal, or a neighbourhood covers every
    analysed cell, the variance of Gi* is zero and esda returns NaN or inf; here the
    z-score is 0 and the p-value 1 (nothing can be detected).

    *Conditional permutation.* As in esda, cell *i* keeps its value and its
    :math:`W_i^* - 1` neighbours are replaced by a random sample, without replacement,
    of the other :math:`n - 1` values, and one set of ``permutations`` index draws is
    shared by all cells. A cell's permuted sum equals its draw row's total except in
    the few permutations that drew the cell itself, so all cells are evaluated with one
    sort per neighbourhood size plus a sparse correction (see
    ``conditional_permutation_counts``), in ``O(permutations * W + n log
    permutations)``. Cells with no analysed neighbour get p-values of 1 (esda reports
    ``1 / (P + 1)`` for such islands, an artefact of its folding rule).

    *Ties.* Counts are integers, so many permuted statistics equal the observed one
    (an empty neighbourhood among empty cells is the common case). esda's folded
    ``p_sim`` counts ties only in the upper tail and then folds, so such a cell gets the
    smallest possible p-value, i.e. it looks like a significant cold spot. ``p_sim`` is
    kept for comparison with esda; classification uses ``p_sim_two_sided``, which counts
    ties in both tails.

    *Exact p-values.* Under conditional randomisation the neighbour sum of cell *i* is
    the sum of :math:`c_i = W_i^* - 1` values drawn without replacement from the other
    :math:`n - 1` values, whose distribution depends on *i* only through
    :math:`(c_i, y_i)`. For integer counts it is obtained exactly from the generating
    function :math:`\prod_v \sum_a \binom{h_v}{a} x^a t^{a v}` over the histogram
    :math:`h` of the other values, one polynomial product per distinct count. This is
    the p-value that ``p_sim_two_sided`` estimates, free of Monte Carlo error and of the
    ``1 / (P + 1)`` floor that makes FDR control with a few hundred permutations nearly
    powerless. It matters: with low counts (about one or two reports per 100 m cell) the
    normal approximation behind ``p`` is anti-conservative in the upper tail (the sum of
    skewed counts is itself skewed), and pure spatial noise then produces "hot spots"
    after FDR far more often than the nominal rate.

    References
    ----------
    .. [1] Getis, A. and Ord, J. K. (1992). The analysis of spatial association by use
       of distance statistics. *Geographical Analysis* 24(3), 189-206.
    .. [2] Ord, J. K. and Getis, A. (1995). Local spatial autocorrelation statistics:
       distributional issues and an application. *Geographical Analysis* 27(4),
       286-306.
    .. [3] Anselin, L. (1995). Local indicators of spatial association - LISA.
       *Geographical Analysis* 27(2), 93-115 (conditional randomisation).
    """
    y2d = np.asarray(values, dtype=np.float64)
    if y2d.ndim != 2:
        raise ValueError("values must be a 2-D (ny, nx) array")
    k = np.asarray(neighbourhood_kernel() if kernel is None else kernel, dtype=bool)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError("kernel must be a 2-D array with odd sides")
    if not k[k.shape[0] // 2, k.shape[1] // 2]:
        raise ValueError("the kernel centre must be set: Gi* includes the focal cell")
    m = np.ones(y2d.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != y2d.shape:
        raise ValueError(f"mask shape {m.shape} differs from values shape {y2d.shape}")
    if not np.isfinite(y2d[m]).all():
        raise ValueError("values must be finite inside the mask")

    n = int(m.sum())
    if n < 2:
        raise ValueError("Gi* needs at least two analysed cells")

    kf = k.astype(np.float64)
    ym = np.where(m, y2d, 0.0)
    # Masked-out cells are zero in both sums, so they drop out of every neighbourhood.
    lag2d = ndimage.correlate(ym, kf, mode="constant", cval=0.0)
    card2d = ndimage.correlate(m.astype(np.float64), kf, mode="constant", cval=0.0)

    y = y2d[m]
    lag = lag2d[m]
    card = np.rint(card2d[m])
    mean = float(y.mean())
    std = float(y.std())
    var_factor = card * (n - card) / (n - 1)
    den = std * np.sqrt(np.maximum(var_factor, 0.0))
    ok = den > 0
    z = np.zeros(n)
    z[ok] = (lag[ok] - mean * card[ok]) / den[ok]
    p = 2.0 * special.ndtr(-np.abs(z))

    def full(a: NDArray[Any], fill: float = np.nan) -> NDArray[np.float64]:
        out = np.full(y2d.shape, fill, dtype=np.float64)
        out[m] = a
        return out

    card_full = np.zeros(y2d.shape, dtype=np.int64)
    card_full[m] = card.astype(np.int64)
    lag_full = np.where(m, lag2d, np.nan)

    p_sim = p_two = direction = None
    if permutations > 0:
        rng = np.random.default_rng(seed)
        n_ge, n_le = conditional_permutation_counts(
            y, card.astype(np.int64) - 1, lag - y, permutations, rng
        )
        larger = n_ge.copy()
        low = (permutations - larger) < larger
        larger[low] = permutations - larger[low]
        ps = (larger + 1.0) / (permutations + 1.0)
        p2 = np.minimum(1.0, 2.0 * (np.minimum(n_ge, n_le) + 1.0) / (permutations + 1.0))
        islands = card <= 1
        ps[islands] = 1.0
        p2[islands] = 1.0
        sim_dir = np.sign(n_le - n_ge).astype(np.int8)
        p_sim, p_two = full(ps), full(p2)
        direction = np.zeros(y2d.shape, dtype=np.int8)
        direction[m] = sim_dir

    p_ex = ex_dir = None
    if exact is not False:
        tails = exact_conditional_tails(y, card.astype(np.int64) - 1, lag - y)
        if tails is None and exact:
            raise ValueError(
                "exact p-values need non-negative integer values and an affordable "
                "neighbourhood-size x largest-count product"
            )
        if tails is not None:
            upper, lower = tails
            p_ex = full(np.minimum(1.0, 2.0 * np.minimum(upper, lower)))
            ex_dir = np.zeros(y2d.shape, dtype=np.int8)
            ex_dir[m] = np.sign(lower - upper).astype(np.int8)

    return GiStarResult(
        z=full(z),
        p=full(p),
        lag=lag_full,
        cardinality=card_full,
        n=n,
        mean=mean,
        std=std,
        permutations=int(permutations),
        p_sim=p_sim,
        p_sim_two_sided=p_two,
        sim_direction=direction,
        p_exact=p_ex,
        exact_direction=ex_dir,
    )
