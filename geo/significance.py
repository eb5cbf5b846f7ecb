"""Multiple testing: Benjamini-Hochberg false-discovery-rate control, the minimum count a hot or
cold spot needs, the hot/cold labels at 90, 95 and 99 % confidence and their plain words."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

CONFIDENCE_LEVELS: tuple[tuple[int, float], ...] = ((99, 0.01), (95, 0.05), (90, 0.10))
"""Confidence levels and the false discovery rate at which each is tested."""

_BIN_LABELS = {
    3: "hot-99",
    2: "hot-95",
    1: "hot-90",
    0: "not-significant",
    -1: "cold-90",
    -2: "cold-95",
    -3: "cold-99",
}
OUTSIDE = "outside"
"""Label of cells excluded by the study-area mask."""

MIN_NEIGHBOURHOOD_COUNT = 5
"""Reports a neighbourhood (the cell and its neighbours) must hold to be called a hot spot,
and must be expected to hold to be called a cold spot.

With a few reports spread over thousands of cells, any two or three that fall close together
are improbable under spatial randomness, so exact conditional p-values call them significant
even after FDR control; but a handful of reports is not a place the board should act on.
"""

MIN_CELL_COUNT = 2
"""Reports a cell must hold itself to be called a hot spot.

The conditional test (esda's ``p_sim``, and its exact limit) keeps a cell's own count fixed
and asks only whether its neighbours are unusual, so a cell's own reports never count towards
its own significance: a cell with one report (or none) between two busy cells is a "99 % hot
spot" while the busy cells, each with only the other as a busy neighbour, may not be. Such a
cell is at most the edge of a hot spot.
"""

PLAIN_WORDS: dict[str, str] = {
    "hot-99": "Far more reports here than the borough average: very unlikely to be chance (99 %)",
    "hot-95": "More reports here than the borough average: unlikely to be chance (95 %)",
    "hot-90": "More reports here than the borough average: fairly unlikely to be chance (90 %)",
    "not-significant": "No clear difference from the borough average",
    "cold-90": "Fewer reports here than the borough average: fairly unlikely to be chance (90 %)",
    "cold-95": "Fewer reports here than the borough average: unlikely to be chance (95 %)",
    "cold-99": "Far fewer reports here than the borough average: very unlikely to be chance (99 %)",
    OUTSIDE: "Outside the area analysed",
}
"""What each label means, in words for a board member; analysts have z, p and q beside them.

"Here" is the cell and the cells around it, and the comparison is with the whole borough:
that is what Gi* measures, so the words do not say "than nearby areas"."""
# --------------------------------------------------------------------------------- FDR


def benjamini_hochberg(p: ArrayLike) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values).

    Parameters
    ----------
    p : array_like
        p-values of any shape; NaN entries (e.g. cells outside the study area) are not
        counted as tests and stay NaN.

    Returns
    -------
    ndarray of float64
        ``q_(i) = min_{j >= i} p_(j) * m / j`` clipped to 1, in the input's shape.
        Rejecting every hypothesis with ``q <= alpha`` is exactly the BH step-up
        procedure at false discovery rate ``alpha``. Matches
        ``scipy.stats.false_discovery_control(p, method="bh")``.

    References
    ----------
    .. [1] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate:
       a practical and powerful approach to multiple testing. *Journal of the Royal
       Statistical Society B* 57(1), 289-300.
    """
    arr = np.asarray(p, dtype=np.float64)
    out = np.full(arr.shape, np.nan)
    finite = ~np.isnan(arr)
    pv = arr[finite]
    m = pv.size
    if m == 0:
        return out
    if (pv < 0).any() or (pv > 1).any():
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(pv, kind="stable")
    scaled = pv[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    out[finite] = q
    return out


def fdr_reject(p: ArrayLike, alpha: float = 0.05) -> NDArray[np.bool_]:
    """Hypotheses rejected by the Benjamini-Hochberg procedure at FDR ``alpha``.

    Parameters
    ----------
    p : array_like
        p-values; NaN entries are not tests and are never rejected.
    alpha : float, default 0.05
        False discovery rate.

    Returns
    -------
    ndarray of bool
        True where the null hypothesis is rejected.

    References
    ----------
    .. [1] Benjamini, Y. and Hochberg, Y. (1995). *JRSS B* 57(1), 289-300.
    """
    q = benjamini_hochberg(p)
    return np.asarray(np.nan_to_num(q, nan=np.inf) <= alpha, dtype=bool)


def plain_words(label: str) -> str:
    """The meaning of a hot/cold label in words for a board member.

    Parameters
    ----------
    label : str
        A label from `classify_hotspots` (``"hot-99"`` ... ``"cold-99"``,
        ``"not-significant"``, ``"outside"``).

    Returns
    -------
    str
        E.g. ``"Far more reports than nearby areas: very unlikely to be chance (99 %)"``.

    Raises
    ------
    ValueError
        For a label `classify_hotspots` never produces.
    """
    try:
        return PLAIN_WORDS[label]
    except KeyError:
        raise ValueError(f"unknown hotspot label {label!r}") from None


def classify_hotspots(
    direction: ArrayLike,
    p: ArrayLike,
    *,
    fdr: bool = True,
    observed: ArrayLike | None = None,
    expected: ArrayLike | None = None,
    min_count: float = 0,
    cell_count: ArrayLike | None = None,
    min_cell_count: float = 0,
) -> tuple[NDArray[np.int8], NDArray[np.str_], NDArray[np.float64]]:
    """Label cells hot or cold at 99, 95 or 90 % confidence.

    A cell is significant at confidence level ``L`` when it is rejected by the
    Benjamini-Hochberg procedure run *separately* at false discovery rate
    ``alpha = 1 - L`` (0.01, 0.05 and 0.10) over all analysed cells; equivalently when
    its BH-adjusted p-value ``q <= alpha``. BH rejections are nested (a cell rejected at
    0.01 is rejected at 0.05 and 0.10), so each cell gets its strictest level. Hot or
    cold follows the sign of ``direction`` (the Gi* z-score). This is the
    Esri "Hot Spot Analysis" convention with its FDR correction, where the bins are
    -3..3.

    Parameters
    ----------
    direction : array_like
        Sign gives hot (> 0) or cold (< 0): the z-scores, or `GiStarResult.sim_direction`.
    p : array_like
        Two-sided p-values; NaN marks cells outside the study area.
    fdr : bool, default True
        Apply BH; when False, raw p-values are compared with 0.01/0.05/0.10 (only for
        comparison with uncorrected tools: with thousands of cells, uncorrected 90 %
        "hotspots" are mostly noise).
    observed, expected : array_like, optional
        Reports in each cell's neighbourhood and the number expected there (the mean
        per cell times the neighbourhood's cells); needed when ``min_count > 0``.
    min_count : float, default 0
        A hot spot needs ``observed >= min_count`` and a cold spot
        ``expected >= min_count`` (see `MIN_NEIGHBOURHOOD_COUNT`); other cells are not
        significant whatever their p-value. BH runs over all cells first, so the rule
        only removes discoveries and the false discovery rate stays controlled.
    cell_count : array_like, optional
        Reports in each cell itself; needed when ``min_cell_count > 0``.
    min_cell_count : float, default 0
        A hot spot's own cell must hold at least this many reports (see
        `MIN_CELL_COUNT`); like ``min_count``, it only removes discoveries.

    Returns
    -------
    gi_bin : ndarray of int8
        3 = hot-99, 2 = hot-95, 1 = hot-90, 0 = not significant or outside,
        -1..-3 the cold equivalents.
    labels : ndarray of str
        ``"hot-99"``, ``"hot-95"``, ``"hot-90"``, ``"not-significant"``, ``"cold-90"``,
        ``"cold-95"``, ``"cold-99"``, or ``"outside"`` where ``p`` is NaN.
    q : ndarray of float64
        The adjusted p-values used (the raw ones when ``fdr=False``).

    References
    ----------
    .. [1] Benjamini, Y. and Hochberg, Y. (1995). *JRSS B* 57(1), 289-300.
    .. [2] Caldas de Castro, M. and Singer, B. H. (2006). *Geographical Analysis*
       38(2), 180-208.
    """
    pv = np.asarray(p, dtype=np.float64)
    sign = np.sign(np.nan_to_num(np.asarray(direction, dtype=np.float64)))
    q = benjamini_hochberg(pv) if fdr else pv.copy()
    qs = np.nan_to_num(q, nan=np.inf)
    level = np.zeros(pv.shape, dtype=np.int8)
    # BH rejections are nested, so going from the loosest level to the strictest and
    # overwriting leaves each cell at its strictest level.
    for lvl, (_, alpha) in zip((1, 2, 3), reversed(CONFIDENCE_LEVELS), strict=True):
        level[qs <= alpha] = lvl
    gi_bin = (level * sign).astype(np.int8)
    if min_count > 0:
        if observed is None or expected is None:
            raise ValueError("min_count needs the observed and expected neighbourhood counts")
        obs = np.nan_to_num(np.asarray(observed, dtype=np.float64), nan=0.0)
        exp = np.nan_to_num(np.asarray(expected, dtype=np.float64), nan=0.0)
        gi_bin[(gi_bin > 0) & (obs < min_count)] = 0
        gi_bin[(gi_bin < 0) & (exp < min_count)] = 0
    if min_cell_count > 0:
        if cell_count is None:
            raise ValueError("min_cell_count needs the cell counts")
        own = np.nan_to_num(np.asarray(cell_count, dtype=np.float64), nan=0.0)
        gi_bin[(gi_bin > 0) & (own < min_cell_count)] = 0
    labels = np.empty(pv.shape, dtype="<U15")
    for b, name in _BIN_LABELS.items():
        labels[gi_bin == b] = name
    labels[np.isnan(pv)] = OUTSIDE
    return gi_bin, labels, q
