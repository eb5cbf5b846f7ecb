"""Rank correlation (Spearman) between two sets of counts, with its confidence interval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

# ------------------------------------------------------------------------- correlation


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman rank correlation between two paired series.

    Attributes
    ----------
    rho : float
        Spearman's rank correlation coefficient (NaN when undefined).
    p : float
        Two-sided p-value for the null hypothesis of no monotonic association (NaN
        when undefined).
    n : int
        Number of pairs used (pairs with a missing value are dropped).
    method : str
        How ``p`` was obtained, in words, for display next to the figures.
    """

    rho: float
    p: float
    n: int
    method: str


def rank_correlation(x: ArrayLike, y: ArrayLike) -> RankCorrelation:
    r"""Spearman's rank correlation of paired values, e.g. two counts per ward.

    Ties get average ranks. The p-value uses the *t* approximation

    .. math:: t = \rho \sqrt{\frac{n - 2}{1 - \rho^2}}

    with :math:`n - 2` degrees of freedom (``scipy.stats.spearmanr``), which is adequate
    from about ten pairs; Lewisham has 19 wards.

    Parameters
    ----------
    x, y : array_like
        Paired values of the same length. Pairs where either value is NaN are dropped.

    Returns
    -------
    RankCorrelation
        With ``rho`` and ``p`` NaN when there are fewer than three pairs or when either
        series is constant (no ranking is possible).

    References
    ----------
    .. [1] Spearman, C. (1904). The proof and measurement of association between two
       things. *American Journal of Psychology* 15(1), 72-101.
    .. [2] Zar, J. H. (2010). *Biostatistical Analysis*, 5th ed. Prentice Hall,
       section 19.9.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError("x and y must have the same length")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    xa, ya = xa[keep], ya[keep]
    n = int(xa.size)
    method = (
        "Spearman rank correlation; two-sided p from the t approximation with n - 2 "
        "degrees of freedom"
    )
    if n < 3 or np.ptp(xa) == 0 or np.ptp(ya) == 0:
        return RankCorrelation(rho=float("nan"), p=float("nan"), n=n, method=method)
    result = stats.spearmanr(xa, ya)
    return RankCorrelation(rho=float(result.statistic), p=float(result.pvalue), n=n, method=method)
