"""Rates per head: reports per 1,000 residents and empirical Bayes smoothed rates.

Wards differ in population by a factor of two, and a category's reports per ward can be a
handful, so a raw rate of a small ward swings with every report. Marshall's global empirical
Bayes estimator shrinks each area's rate towards the borough rate, the more so the smaller its
population, and leaves the borough total unchanged in expectation.

References
----------
.. [1] Marshall, R. J. (1991). Mapping disease and mortality rates using empirical Bayes
   estimators. *Journal of the Royal Statistical Society C* 40(2), 283-294.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo import DATA_DIR

WARD_POPULATION_CSV = DATA_DIR / "lewisham_ward_population_census2011_wd22.csv"
PER = 1000.0
"""Rates are per this many residents."""


def read_ward_population(path: Path = WARD_POPULATION_CSV) -> dict[str, int]:
    """Usual residents (Census 2011) per 2022 ward code.

    Parameters
    ----------
    path : Path, optional
        A CSV with ``WD22CD`` and ``usual_residents_2011`` columns; default the shipped file.

    Returns
    -------
    dict of str to int
        ``{"E05013714": 10627, ...}``.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["WD22CD"]: int(row["usual_residents_2011"]) for row in csv.DictReader(handle)}


def _checked(counts: ArrayLike, population: ArrayLike) -> tuple[NDArray[np.float64], ...]:
    e = np.asarray(counts, dtype=np.float64)
    b = np.asarray(population, dtype=np.float64)
    if e.shape != b.shape or e.ndim != 1:
        raise ValueError("counts and population must be 1-D arrays of the same length")
    if (b <= 0).any() or not np.isfinite(b).all():
        raise ValueError("populations must be positive")
    if (e < 0).any() or not np.isfinite(e).all():
        raise ValueError("counts must be non-negative")
    return e, b


def rate_per_1000(counts: ArrayLike, population: ArrayLike) -> NDArray[np.float64]:
    """Raw rates: ``1000 * counts / population`` per area.

    Parameters
    ----------
    counts, population : array_like, shape (n,)
        Events and residents per area; populations must be positive.

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    e, b = _checked(counts, population)
    return PER * e / b


def empirical_bayes_per_1000(counts: ArrayLike, population: ArrayLike) -> NDArray[np.float64]:
    r"""Marshall's global empirical Bayes rates per 1,000.

    With raw rates :math:`r_i = e_i / b_i`, borough rate :math:`\bar r = \sum e / \sum b`,
    and between-area variance estimated by the method of moments,

    .. math::

        s^2 = \frac{\sum b_i (r_i - \bar r)^2}{\sum b_i} - \frac{\bar r}{\bar b}, \qquad
        w_i = \frac{s^2}{s^2 + \bar r / b_i}, \qquad
        \hat r_i = w_i r_i + (1 - w_i) \bar r,

    which is what ``esda.smoothing.Empirical_Bayes`` computes. Where the estimate
    :math:`s^2` is negative (the areas vary no more than Poisson noise would make them) it is
    set to 0, as Marshall recommends, and every area gets the borough rate; esda would
    instead return weights outside [0, 1].

    Parameters
    ----------
    counts, population : array_like, shape (n,)
        Events and residents per area; populations must be positive.

    Returns
    -------
    ndarray of float64, shape (n,)
        Smoothed rates per 1,000 residents. When there are no events at all, zeros.
    """
    e, b = _checked(counts, population)
    if e.size == 0:
        return np.zeros(0)
    r_mean = e.sum() / b.sum()
    rate = e / b
    s2 = max(float((b * (rate - r_mean) ** 2).sum() / b.sum() - r_mean / b.mean()), 0.0)
    if s2 == 0.0:
        return np.full(e.shape, PER * r_mean)
    weight = s2 / (s2 + r_mean / b)
    return PER * (weight * rate + (1.0 - weight) * r_mean)
