"""Emerging hot spots: Gi* per time window and the Mann-Kendall trend of each cell's z-scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from geo.gistar import counts_as_tested, getis_ord_gi_star
from geo.significance import (
    MIN_CELL_COUNT,
    MIN_NEIGHBOURHOOD_COUNT,
    OUTSIDE,
    classify_hotspots,
)

EMERGING_CATEGORIES = ("new", "intensifying", "persistent", "diminishing", "none")
"""Emerging-hotspot categories, in the order in which they are tested."""
# ------------------------------------------------------------------- emerging hotspots


def mann_kendall(
    x: ArrayLike, *, axis: int = 0, continuity: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Mann-Kendall trend test, vectorised over all series at once.

    .. math:: S = \sum_{i < j} \operatorname{sign}(x_j - x_i), \qquad
              \operatorname{Var}(S) = \frac{T(T-1)(2T+5) - \sum_t t(t-1)(2t+5)}{18}

    where the sum runs over groups of ``t`` tied values.

    Parameters
    ----------
    x : array_like
        Series along ``axis`` (time, oldest first), any number of other dimensions.
    axis : int, default 0
        The time axis.
    continuity : bool, default True
        Use :math:`Z = (S - \operatorname{sign}(S)) / \sqrt{\operatorname{Var}(S)}`;
        False gives :math:`S / \sqrt{\operatorname{Var}(S)}`, the asymptotic
        Kendall-tau test of ``scipy.stats.kendalltau(range(T), x)``.

    Returns
    -------
    s, var_s, z, p : ndarray of float64
        Statistic, its variance under no trend, the normal score and the two-sided
        p-value, each with ``axis`` removed. Constant series get ``z = 0, p = 1``.

    References
    ----------
    .. [1] Mann, H. B. (1945). Nonparametric tests against trend. *Econometrica* 13,
       245-259.
    .. [2] Kendall, M. G. (1975). *Rank Correlation Methods*, 4th ed. Griffin.
    """
    a = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    t = a.shape[0]
    s = np.zeros(a.shape[1:])
    ties = np.zeros(a.shape[1:])
    # Loop over lags rather than building a (T, T, ...) array: memory stays O(T * cells).
    for lag in range(1, t):
        s += np.sign(a[lag:] - a[:-lag]).sum(axis=0)
    for i in range(t):
        # Each member of a tie group of size g adds (g - 1)(2g + 5), so the group adds
        # g (g - 1)(2g + 5) as the formula requires.
        g = (a == a[i]).sum(axis=0)
        ties += (g - 1) * (2 * g + 5)
    var_s = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    num = s - np.sign(s) if continuity else s
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var_s > 0, num / np.sqrt(np.where(var_s > 0, var_s, 1.0)), 0.0)
    p = 2.0 * special.ndtr(-np.abs(z))
    return s, var_s, z, p


@dataclass(frozen=True, eq=False)
class EmergingResult:
    """Emerging-hotspot categories per cell.

    Attributes
    ----------
    categories : ndarray of str, shape (ny, nx)
        One of `EMERGING_CATEGORIES`, or ``"outside"`` for masked-out cells.
    trend_z, trend_p : ndarray of float64
        Mann-Kendall score and two-sided p-value of each cell's Gi* z-score series.
    n_hot : ndarray of int64
        Number of windows in which the cell is a significant hot spot.
    hot : ndarray of bool, shape (T, ny, nx)
        Significant hot spot per window.
    params : dict
        Thresholds used.
    """

    categories: NDArray[np.str_]
    trend_z: NDArray[np.float64]
    trend_p: NDArray[np.float64]
    n_hot: NDArray[np.int64]
    hot: NDArray[np.bool_]
    params: dict[str, Any] = field(default_factory=dict)


def classify_emerging(
    z: ArrayLike,
    gi_bin: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    min_level: int = 1,
    persistence: float = 0.9,
    trend_alpha: float = 0.05,
) -> EmergingResult:
    """Classify cells from per-window Gi* results (simplified Esri categories).

    With ``T`` windows, a cell is *hot* in a window when its ``gi_bin >= min_level``
    (default: hot at 90 % confidence after FDR), and the Mann-Kendall test on its Gi*
    z-scores gives the trend. Categories, tested in this order:

    ``new``
        Hot in the final window and in no earlier window.
    ``intensifying``
        Hot in at least ``ceil(persistence * T)`` windows, including the final one,
        with a significant upward trend (``trend_p < trend_alpha``, ``trend_z > 0``).
    ``diminishing``
        The same, with a significant downward trend.
    ``persistent``
        Hot in at least ``ceil(persistence * T)`` windows, without a significant
        trend.
    ``none``
        Anything else. Esri's other hot categories (consecutive, sporadic,
        oscillating, historical) and all cold-spot categories are folded in here.

    Parameters
    ----------
    z : array_like, shape (T, ny, nx)
        Gi* z-scores per window (NaN outside the mask).
    gi_bin : array_like of int, shape (T, ny, nx)
        Significance bins per window from `classify_hotspots`.
    mask : array_like of bool, shape (ny, nx), optional
        Analysed cells; default the cells whose z-scores are finite in every window.
    min_level : int, default 1
        Smallest ``gi_bin`` that counts as hot (1 = 90 %, 2 = 95 %, 3 = 99 %).
    persistence : float, default 0.9
        Share of windows a persistent, intensifying or diminishing hot spot needs.
    trend_alpha : float, default 0.05
        Significance level of the Mann-Kendall test. Note that the smallest attainable
        two-sided p-value is about 0.12 for 4 windows and 0.03 for 6 (with the
        continuity correction), so trends need at least 6-8 windows.

    Returns
    -------
    EmergingResult

    References
    ----------
    .. [1] Esri. "How Emerging Hot Spot Analysis works", ArcGIS Pro documentation.
    .. [2] Mann, H. B. (1945). *Econometrica* 13, 245-259.
    """
    za = np.asarray(z, dtype=np.float64)
    bins = np.asarray(gi_bin)
    if za.ndim != 3 or bins.shape != za.shape:
        raise ValueError("z and gi_bin must both have shape (T, ny, nx)")
    t = za.shape[0]
    if t < 2:
        raise ValueError("emerging hotspots need at least two windows")
    m = np.isfinite(za).all(axis=0) if mask is None else np.asarray(mask, dtype=bool)
    hot = (bins >= min_level) & m[None]
    n_hot = hot.sum(axis=0).astype(np.int64)
    _, _, tz, tp = mann_kendall(np.nan_to_num(za), axis=0)
    needed = math.ceil(persistence * t - 1e-9)
    mostly_hot = n_hot >= needed
    final = hot[-1]
    significant = tp < trend_alpha
    cats = np.full(m.shape, "none", dtype="<U15")
    # Assign from the last-tested category back to the first, so earlier rules win.
    cats[mostly_hot & ~significant] = "persistent"
    cats[mostly_hot & final & significant & (tz < 0)] = "diminishing"
    cats[mostly_hot & final & significant & (tz > 0)] = "intensifying"
    cats[final & (n_hot == 1)] = "new"
    cats[~m] = OUTSIDE
    return EmergingResult(
        categories=cats,
        trend_z=np.where(m, tz, np.nan),
        trend_p=np.where(m, tp, np.nan),
        n_hot=n_hot,
        hot=hot,
        params={
            "windows": t,
            "min_level": min_level,
            "persistence": persistence,
            "windows_needed": needed,
            "trend_alpha": trend_alpha,
        },
    )


def emerging_hotspots(
    window_counts: ArrayLike,
    *,
    kernel: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    fdr: bool = True,
    min_level: int = 1,
    persistence: float = 0.9,
    trend_alpha: float = 0.05,
    p_source: Literal["analytical", "auto"] = "analytical",
    min_count: float = MIN_NEIGHBOURHOOD_COUNT,
    min_cell_count: float = MIN_CELL_COUNT,
) -> EmergingResult:
    """Gi* with FDR for every time window, then `classify_emerging`.

    Parameters
    ----------
    window_counts : array_like, shape (T, ny, nx)
        Counts per window and cell (e.g. from `bin_points_windows`), oldest first.
    kernel : array_like of bool, optional
        Neighbourhood footprint (default queen contiguity).
    mask : array_like of bool, shape (ny, nx), optional
        Study area, the same for every window.
    fdr : bool, default True
        Benjamini-Hochberg control within each window.
    min_level, persistence, trend_alpha
        See `classify_emerging`.
    p_source : {"analytical", "auto"}, default "analytical"
        p-values that decide whether a cell is hot in a window. "analytical" is the
        normal approximation (as in Esri's tool). "auto" takes the exact
        conditional-randomisation p-values when they can be computed, as
        `compute_hotspots` does: windows are short, so counts are low, and there the
        normal approximation turns single reports into "new" hot spots.

    min_count, min_cell_count
        The minimum counts `compute_hotspots` applies (see `classify_hotspots`), in every
        window: a window is short, so without them one report in a quiet cell would be a
        hot spot in it, and the trend built on those windows a "new" one.

    Returns
    -------
    EmergingResult
        Its ``params`` also record ``fdr``, ``p_source`` and the minimum counts.
    """
    counts = np.asarray(window_counts, dtype=np.float64)
    if counts.ndim != 3:
        raise ValueError("window_counts must have shape (T, ny, nx)")
    zs = np.empty(counts.shape)
    bins = np.empty(counts.shape, dtype=np.int8)
    if p_source not in ("analytical", "auto"):
        raise ValueError(f"unknown p_source {p_source!r}")
    for i in range(counts.shape[0]):
        exact = None if p_source == "auto" else False
        # Spread reports' fractional counts are tested in tenths, as `compute_hotspots` does.
        tested, unit = counts_as_tested(counts[i])
        gi = getis_ord_gi_star(tested, kernel, mask=mask, exact=exact)
        zs[i] = gi.z
        if gi.p_exact is not None and gi.exact_direction is not None:
            direction, p = gi.exact_direction.astype(np.float64), gi.p_exact
        else:
            direction, p = gi.z, gi.p
        bins[i], _, _ = classify_hotspots(
            direction,
            p,
            fdr=fdr,
            observed=gi.lag / unit,
            expected=gi.mean * gi.cardinality / unit,
            min_count=min_count,
            cell_count=tested / unit,
            min_cell_count=min_cell_count,
        )
    m = np.ones(counts.shape[1:], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    result = classify_emerging(
        zs,
        bins,
        mask=m,
        min_level=min_level,
        persistence=persistence,
        trend_alpha=trend_alpha,
    )
    result.params["fdr"] = fdr
    result.params["p_source"] = p_source
    result.params["min_count"] = min_count
    result.params["min_cell_count"] = min_cell_count
    return result
