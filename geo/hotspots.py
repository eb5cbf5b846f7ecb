"""Hotspot statistics on a regular British National Grid lattice.

What the board calls a *hotspot* is defined here, in one place:

1. Reports are binned onto a square grid in British National Grid (EPSG:27700), 100 m
   cells by default. Grid origins are snapped to multiples of the cell size, so grids
   built for different runs or time windows line up cell for cell.
2. The Getis-Ord Gi* statistic is computed for every analysed cell with binary weights
   over a square (``neighbourhood_cells``; 1 = queen contiguity) or circular
   (``neighbourhood_m``, a distance band between cell centres) neighbourhood. The cell
   itself is part of its own neighbourhood (the "star" form). z-scores and two-sided
   p-values are identical to PySAL's ``esda.G_Local(y, w, transform="B", star=True)``
   for the same cells and weights; conditional-permutation pseudo p-values follow esda's
   definition too.
3. Benjamini-Hochberg false-discovery-rate control is applied across all analysed cells
   before a cell is called hot or cold at 90, 95 or 99 % confidence. For report counts
   the p-values used are, by default, *exact* conditional-randomisation p-values (the
   limit of esda's permutation test as the number of permutations grows): with one or
   two reports per cell the normal approximation is anti-conservative, and on pure
   spatial noise it yields "hot spots" after FDR in a quarter of runs instead of the
   nominal 5 %. Where exact p-values cost too much (large counts) the conditional
   permutation p-values are used, with the same meaning. The normal approximation is kept
   only for comparison with other tools; z-scores are kept as a measure of size.
4. A hot spot also needs at least ``min_count`` reports in its neighbourhood, and a cold spot
   at least that many expected there (`significance.MIN_NEIGHBOURHOOD_COUNT`, 5). On sparse
   data (a category after dark: a few dozen reports over 3,500 cells) two or three reports in
   adjacent cells are genuinely improbable under spatial randomness, so their exact p-values
   survive FDR control and a cell holding one report became a "99 % hot spot" with z = 22;
   a handful of reports is not evidence a board can act on. And a hot spot's own cell must
   hold at least ``min_cell_count`` reports (`significance.MIN_CELL_COUNT`, 2): the
   conditional test keeps each cell's own count fixed and looks only at its neighbours, so
   an empty or one-report cell between busy cells comes out hot (often more so than the
   busy cells themselves); it is left as the edge, so one report is never a hot spot. A
   cluster spread over several cells, where busy cells have busy neighbours, is still found.
5. A report placed from typed text is spread over the cells of its street or area
   (`grid.Extents`), so counts may be fractional. Gi* is then computed on counts in tenths
   of a report (`gistar.counts_as_tested`): the same z and p-values as for the true counts to
   within rounding, exact where affordable, conditional permutations otherwise. The minimum
   counts keep meaning whole reports: a neighbourhood of 4.9 reports is short of 5.

The study area
--------------
By default every cell of the bounding grid is analysed. Pass ``mask`` (a boolean array
or the borough polygon) to restrict the analysis to the study area: masked-out cells
take no part at all, neither in the number of cells ``n``, nor in the mean and variance,
nor in any cell's neighbourhood. The board should always pass the borough: reports from
outside Lewisham are rejected at submission, so cells outside the borough are
*structural* zeros, not observed zeros, and including them would pull the mean down and
inflate every z-score inside the borough. A cell belongs to a polygon mask when its
centre is inside the polygon or on its boundary.

The module is pure numpy/scipy/pyproj/shapely: it imports neither Flask nor SQLAlchemy,
and PySAL is used only by the tests and the benchmark to validate it. Arrays indexed by
cell have shape ``(ny, nx)``; row 0 is the *southernmost* row (northing increases with
the row index), column 0 the westernmost column.

References
----------
.. [1] Getis, A. and Ord, J. K. (1992). The analysis of spatial association by use of
   distance statistics. *Geographical Analysis* 24(3), 189-206.
.. [2] Ord, J. K. and Getis, A. (1995). Local spatial autocorrelation statistics:
   distributional issues and an application. *Geographical Analysis* 27(4), 286-306.
.. [3] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a
   practical and powerful approach to multiple testing. *Journal of the Royal
   Statistical Society B* 57(1), 289-300.
.. [4] Caldas de Castro, M. and Singer, B. H. (2006). Controlling the false discovery
   rate: a new application to account for multiple and dependent tests in local
   statistics of spatial association. *Geographical Analysis* 38(2), 180-208.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from geo.gistar import counts_as_tested, getis_ord_gi_star, neighbourhood_kernel
from geo.grid import Grid, bin_points, bin_points_bng, resolve_grid
from geo.projection import to_bng
from geo.significance import MIN_CELL_COUNT, MIN_NEIGHBOURHOOD_COUNT, classify_hotspots

# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class HotspotResult:
    """One hotspot run: grid, counts, Gi* statistics and significance per cell.

    Attributes
    ----------
    grid : Grid
        The grid the points were binned on.
    counts : ndarray of int64 or float64, shape (ny, nx)
        Points per cell; with spread reports (``weights``) in tenths of a report.
    mask : ndarray of bool, shape (ny, nx)
        Analysed cells.
    kernel : ndarray of bool
        Neighbourhood footprint used.
    z : ndarray of float64
        Gi* z-scores (NaN outside the mask).
    p : ndarray of float64
        Two-sided analytical (normal) p-values.
    p_sim : ndarray of float64 or None
        esda-style folded pseudo p-values, when permutations were run.
    p_sim_two_sided : ndarray of float64 or None
        Tie-aware two-sided permutation p-values, when permutations were run.
    p_exact : ndarray of float64 or None
        Exact two-sided conditional-randomisation p-values, when computed.
    p_used : ndarray of float64
        The p-values the labels were decided on, the one p a run reports (which of the
        above it is: ``params["p_source"]``).
    q : ndarray of float64
        Benjamini-Hochberg adjusted ``p_used``.
    gi_bin : ndarray of int8
        -3..3 significance bins (see `classify_hotspots`).
    labels : ndarray of str
        ``"hot-99"`` ... ``"cold-99"``, ``"not-significant"``, ``"outside"``.
    params : dict
        How the run was made: cell size, neighbourhood, permutations, seed, p-value
        source, FDR, number of points used and dropped.
    """

    grid: Grid
    counts: NDArray[np.int64] | NDArray[np.float64]
    mask: NDArray[np.bool_]
    kernel: NDArray[np.bool_]
    z: NDArray[np.float64]
    p: NDArray[np.float64]
    p_sim: NDArray[np.float64] | None
    p_sim_two_sided: NDArray[np.float64] | None
    p_exact: NDArray[np.float64] | None
    p_used: NDArray[np.float64]
    q: NDArray[np.float64]
    gi_bin: NDArray[np.int8]
    labels: NDArray[np.str_]
    params: dict[str, Any] = field(default_factory=dict)

    def label_counts(self) -> dict[str, int]:
        """Number of analysed cells per label, e.g. ``{"hot-99": 12, ...}``."""
        names, counts = np.unique(self.labels[self.mask], return_counts=True)
        return {str(k): int(v) for k, v in zip(names, counts, strict=True)}

    def to_features(self, *, include_not_significant: bool = False) -> list[dict[str, Any]]:
        """Cells as GeoJSON features (lon/lat polygons), for storage and maps.

        Parameters
        ----------
        include_not_significant : bool, default False
            Also return analysed cells that are not significant.

        Returns
        -------
        list of dict
            GeoJSON ``Feature`` dicts with properties ``iy, ix, count, z, p, q,
            gi_bin, label``, where ``p`` is ``p_used``.
        """
        select = self.mask & ((self.gi_bin != 0) | include_not_significant)
        iy, ix = np.nonzero(select)
        rings = self.grid.cell_polygons_lonlat(iy, ix)
        features = []
        for k in range(iy.size):
            r, c = int(iy[k]), int(ix[k])
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [np.round(rings[k], 6).tolist()],
                    },
                    "properties": {
                        "iy": r,
                        "ix": c,
                        "count": self.counts[r, c].item(),
                        "z": float(self.z[r, c]),
                        "p": float(self.p_used[r, c]),
                        "q": float(self.q[r, c]),
                        "gi_bin": int(self.gi_bin[r, c]),
                        "label": str(self.labels[r, c]),
                    },
                }
            )
        return features


def compute_hotspots(
    lons: ArrayLike,
    lats: ArrayLike,
    *,
    cell_size_m: float = 100.0,
    neighbourhood_m: float | None = None,
    neighbourhood_cells: int | None = None,
    permutations: int = 0,
    seed: int | None = None,
    mask: ArrayLike | BaseGeometry | None = None,
    bounds: Sequence[float] | None = None,
    grid: Grid | None = None,
    p_source: Literal["auto", "conditional", "exact", "permutation", "analytical"] = "auto",
    fdr: bool = True,
    min_count: float = MIN_NEIGHBOURHOOD_COUNT,
    min_cell_count: float = MIN_CELL_COUNT,
    projected: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    weights: ArrayLike | None = None,
) -> HotspotResult:
    """Bin points, run Gi*, control the FDR and label hot and cold spots.

    Parameters
    ----------
    lons, lats : array_like
        WGS84 report locations in degrees.
    cell_size_m : float, default 100
        Grid cell side in metres.
    neighbourhood_m : float, optional
        Distance band in metres between cell centres (e.g. 150 m on a 100 m grid is
        queen contiguity, 250 m a 21-cell disc).
    neighbourhood_cells : int, optional
        Square neighbourhood radius in cells; default 1 (queen contiguity) when
        ``neighbourhood_m`` is not given.
    permutations : int, default 0
        Conditional permutations for pseudo p-values (0: analytical only).
    seed : int, optional
        Seed for the permutations (store it with the run to reproduce it).
    mask : array_like of bool or shapely geometry, optional
        Study area: a boolean ``(ny, nx)`` array for ``grid``, or a lon/lat polygon
        (cells whose centre it covers). Default: every cell of the grid. Pass the
        borough; see the module notes on structural zeros.
    bounds : sequence of float, optional
        ``(min_lon, min_lat, max_lon, max_lat)`` for the grid; default the mask
        polygon's bounds, else the points' bounds.
    grid : Grid, optional
        Use this grid instead of building one (required with an array ``mask``).
    p_source : {"auto", "exact", "permutation", "analytical"}, default "auto"
        p-values used for FDR and labels. "exact": exact conditional-randomisation
        p-values (see `getis_ord_gi_star`); "permutation": the tie-aware two-sided
        permutation p-values; "analytical": the normal approximation (esda's and
        Esri's). "auto" takes "exact" when it can be computed (integer counts of
        modest size, the usual case for reports), else "permutation" when
        ``permutations > 0``, else "analytical"; the choice is recorded in ``params``.
        With low counts the analytical p-values produce false hot spots in pure noise
        well above the nominal FDR; with 999 permutations the smallest two-sided
        p-value is 0.002, so 99 % after FDR needs hundreds of extreme cells. Exact
        p-values have neither problem. "conditional" is "auto" without the normal
        approximation: exact, else permutation, else a ValueError (the board's choice).
    fdr : bool, default True
        Benjamini-Hochberg control across the analysed cells.
    min_count : float, default `significance.MIN_NEIGHBOURHOOD_COUNT`
        Reports a neighbourhood must hold to be a hot spot (or be expected to hold to be
        a cold spot); 0 turns the rule off.
    min_cell_count : float, default `significance.MIN_CELL_COUNT`
        Reports a hot spot's own cell must hold; 0 turns the rule off.
    weights : array_like, optional
        Weight of each point (`grid.Pieces`: shares of reports spread over their street or
        area); default 1 each. Fractional counts are tested in tenths (module notes, 5).

    Returns
    -------
    HotspotResult

    References
    ----------
    .. [1] Getis, A. and Ord, J. K. (1992). *Geographical Analysis* 24(3), 189-206.
    .. [2] Ord, J. K. and Getis, A. (1995). *Geographical Analysis* 27(4), 286-306.
    .. [3] Benjamini, Y. and Hochberg, Y. (1995). *JRSS B* 57(1), 289-300.
    """
    lon = np.asarray(lons, dtype=np.float64).ravel()
    lat = np.asarray(lats, dtype=np.float64).ravel()
    if lon.shape != lat.shape:
        raise ValueError("lons and lats must have the same length")
    geom_mask = mask if isinstance(mask, BaseGeometry) else None
    array_mask = None if mask is None or geom_mask is not None else np.asarray(mask, dtype=bool)
    g = resolve_grid(
        lon, lat, cell_size_m, geom_mask if geom_mask is not None else array_mask, bounds, grid
    )
    if geom_mask is not None:
        m = g.mask_from_geometry(geom_mask)
    elif array_mask is not None:
        m = array_mask
    else:
        m = np.ones(g.shape, dtype=bool)
    if m.shape != g.shape:
        raise ValueError(f"mask shape {m.shape} differs from grid shape {g.shape}")

    kernel = neighbourhood_kernel(
        cells=neighbourhood_cells, distance_m=neighbourhood_m, cell_size_m=g.cell_size
    )
    # ``projected``: the points' BNG eastings and northings, when the caller has them (the
    # same numbers ``to_bng`` gives; several runs on one set of points project it once).
    if projected is None:
        projected = to_bng(lon, lat) if weights is not None else None
    binned = (
        bin_points(lon, lat, g) if projected is None else bin_points_bng(*projected, g, weights)
    )
    tested, unit = counts_as_tested(binned)
    counts = tested / unit if unit != 1 else binned
    if p_source not in ("auto", "conditional", "exact", "permutation", "analytical"):
        raise ValueError(f"unknown p_source {p_source!r}")
    gi = getis_ord_gi_star(
        tested,
        kernel,
        mask=m,
        permutations=permutations,
        seed=seed,
        exact={"exact": True, "auto": None, "conditional": None}.get(p_source, False),
    )

    source = p_source
    if source in ("auto", "conditional"):
        if gi.p_exact is not None:
            source = "exact"
        elif permutations > 0:
            source = "permutation"
        elif source == "conditional":
            raise ValueError(
                "p_source='conditional' needs permutations > 0 where exact p-values "
                "cannot be computed"
            )
        else:
            source = "analytical"
    if source == "exact":
        if gi.p_exact is None or gi.exact_direction is None:  # pragma: no cover
            raise RuntimeError("exact p-values were requested but not computed")
        p_used, direction = gi.p_exact, gi.exact_direction.astype(np.float64)
    elif source == "permutation":
        if gi.p_sim_two_sided is None or gi.sim_direction is None:
            raise ValueError("p_source='permutation' needs permutations > 0")
        p_used, direction = gi.p_sim_two_sided, gi.sim_direction.astype(np.float64)
    else:
        p_used, direction = gi.p, gi.z
    expected = np.where(m, gi.mean * gi.cardinality, np.nan) / unit
    gi_bin, labels, q = classify_hotspots(
        direction,
        p_used,
        fdr=fdr,
        observed=gi.lag / unit,
        expected=expected,
        min_count=min_count,
        cell_count=counts,
        min_cell_count=min_cell_count,
    )

    n_points = int(lon.size) if weights is None else round(float(np.sum(weights)))
    n_on_grid = round(float(counts.sum()))
    params = {
        "cell_size_m": g.cell_size,
        "neighbourhood_m": neighbourhood_m,
        "neighbourhood_cells": None if neighbourhood_m is not None else (neighbourhood_cells or 1),
        "neighbourhood_size": int(kernel.sum()),
        "permutations": int(permutations),
        "seed": seed,
        "p_source": source,
        "fdr": fdr,
        "min_count": min_count,
        "min_cell_count": min_cell_count,
        "n_cells": gi.n,
        "count_unit": 1 / unit,
        "n_points": n_points,
        "n_points_off_grid": n_points - n_on_grid,
        "n_points_outside_mask": n_on_grid - round(float(counts[m].sum())),
    }
    return HotspotResult(
        grid=g,
        counts=counts,
        mask=m,
        kernel=kernel,
        z=gi.z,
        p=gi.p,
        p_sim=gi.p_sim,
        p_sim_two_sided=gi.p_sim_two_sided,
        p_exact=gi.p_exact,
        p_used=p_used,
        q=q,
        gi_bin=gi_bin,
        labels=labels,
        params=params,
    )
