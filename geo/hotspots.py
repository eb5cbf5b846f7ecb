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
   nominal 5 %. Large counts, where the normal approximation is sound, fall back to it.

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

import json
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer
from scipy import ndimage, special, stats
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo import DATA_DIR

__all__ = [
    "CONFIDENCE_LEVELS",
    "EMERGING_CATEGORIES",
    "LEWISHAM_LAT",
    "LEWISHAM_LON",
    "LONDON",
    "DensityResult",
    "EmergingResult",
    "GiStarResult",
    "Grid",
    "HotspotResult",
    "RankCorrelation",
    "after_dark",
    "benjamini_hochberg",
    "bin_points",
    "bin_points_bng",
    "bin_points_h3",
    "bin_points_windows",
    "classify_emerging",
    "classify_hotspots",
    "compute_hotspots",
    "emerging_hotspots",
    "fdr_reject",
    "getis_ord_gi_star",
    "kernel_density",
    "mann_kendall",
    "neighbourhood_kernel",
    "rank_correlation",
    "read_boundary",
    "silverman_bandwidth",
    "sun_times",
    "time_profile",
    "to_bng",
    "to_lonlat",
]

BOROUGH_FILE = DATA_DIR / "lewisham_borough_boundary.geojson"

LONDON = ZoneInfo("Europe/London")
"""Time zone for day-of-week and hour-of-day profiles."""

LEWISHAM_LAT = 51.4452
"""Latitude used for sunrise and sunset (Catford Broadway)."""

LEWISHAM_LON = -0.0207
"""Longitude used for sunrise and sunset (Catford Broadway), east positive."""

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

EMERGING_CATEGORIES = ("new", "intensifying", "persistent", "diminishing", "none")
"""Emerging-hotspot categories, in the order in which they are tested."""

# Official sunrise/sunset: the sun's centre 50' below the horizon (16' semi-diameter
# plus 34' of standard refraction).
OFFICIAL_ZENITH_DEG = 90.833
CIVIL_ZENITH_DEG = 96.0


# --------------------------------------------------------------------------- projection


@lru_cache(maxsize=1)
def _transformer_to_bng() -> Transformer:
    # Building a Transformer costs tens of milliseconds; pyproj transformers are
    # thread-safe since 3.1, so one cached instance serves every caller.
    return Transformer.from_crs(4326, 27700, always_xy=True)


@lru_cache(maxsize=1)
def _transformer_to_lonlat() -> Transformer:
    return Transformer.from_crs(27700, 4326, always_xy=True)


# Above this many points projection is split across threads: PROJ releases the GIL, so
# on the 2-core machines this halves the dominant cost of binning a million points.
_PARALLEL_MIN_POINTS = 200_000
_executor: tuple[int, ThreadPoolExecutor] | None = None


def _thread_pool() -> ThreadPoolExecutor:
    global _executor
    # Celery's prefork workers fork after import; threads do not survive a fork, so the
    # pool is tied to the process that created it.
    if _executor is None or _executor[0] != os.getpid():
        _executor = (os.getpid(), ThreadPoolExecutor(max_workers=os.cpu_count() or 1))
    return _executor[1]


def _transform(
    transformer: Transformer, a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    workers = os.cpu_count() or 1
    if a.size < _PARALLEL_MIN_POINTS or workers < 2:
        x, y = transformer.transform(a, b)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    flat_a, flat_b = a.ravel(), b.ravel()
    bounds = np.linspace(0, flat_a.size, workers + 1).astype(int)
    # pyproj transformers are thread-safe since 3.1 (each thread gets its own PROJ
    # context), so one transformer serves all chunks.
    parts = list(
        _thread_pool().map(
            lambda k: transformer.transform(
                flat_a[bounds[k] : bounds[k + 1]], flat_b[bounds[k] : bounds[k + 1]]
            ),
            range(workers),
        )
    )
    x = np.concatenate([np.asarray(px, dtype=np.float64) for px, _ in parts])
    y = np.concatenate([np.asarray(py, dtype=np.float64) for _, py in parts])
    return x.reshape(a.shape), y.reshape(a.shape)


def to_bng(lons: ArrayLike, lats: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project WGS84 longitude/latitude to British National Grid.

    Parameters
    ----------
    lons, lats : array_like
        WGS84 longitudes and latitudes in degrees.

    Returns
    -------
    x, y : ndarray of float64
        Eastings and northings in metres (EPSG:27700). Without the OSTN15 grid file
        PROJ uses a Helmert shift, good to about 2 m: ample for 100 m cells.
    """
    lon, lat = np.broadcast_arrays(
        np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
    )
    return _transform(_transformer_to_bng(), lon, lat)


def to_lonlat(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project British National Grid eastings/northings to WGS84 longitude/latitude.

    Parameters
    ----------
    x, y : array_like
        Eastings and northings in metres (EPSG:27700).

    Returns
    -------
    lons, lats : ndarray of float64
        WGS84 longitudes and latitudes in degrees.
    """
    xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return _transform(_transformer_to_lonlat(), xa, ya)


def read_boundary(path: Path = BOROUGH_FILE) -> BaseGeometry:
    """Read a study-area polygon (WGS84) from a GeoJSON file.

    Parameters
    ----------
    path : pathlib.Path, optional
        GeoJSON FeatureCollection; all features are unioned. Defaults to the shipped
        Lewisham borough boundary.

    Returns
    -------
    shapely.geometry.base.BaseGeometry
        The (Multi)Polygon in longitude/latitude.
    """
    features = json.loads(path.read_text())["features"]
    return shapely.union_all([shape(f["geometry"]) for f in features])


def _project_geometry(geometry_lonlat: BaseGeometry) -> BaseGeometry:
    """A lon/lat geometry in British National Grid."""

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = to_bng(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry_lonlat, project)


# --------------------------------------------------------------------------------- grid


@dataclass(frozen=True)
class Grid:
    """A regular square grid in British National Grid (EPSG:27700).

    Cell ``(iy, ix)`` spans eastings ``[x0 + ix*cell_size, x0 + (ix+1)*cell_size)`` and
    northings ``[y0 + iy*cell_size, y0 + (iy+1)*cell_size)``: row 0 is the southern
    edge, so arrays must be flipped vertically to be drawn as images.

    Parameters
    ----------
    x0, y0 : float
        Easting and northing of the grid's south-west corner, in metres.
    cell_size : float
        Side of a cell, in metres.
    nx, ny : int
        Number of columns (west to east) and rows (south to north).
    """

    x0: float
    y0: float
    cell_size: float
    nx: int
    ny: int

    def __post_init__(self) -> None:
        if not self.cell_size > 0:
            raise ValueError("cell_size must be positive")
        if self.nx < 1 or self.ny < 1:
            raise ValueError("a grid needs at least one row and one column")

    @classmethod
    def covering(
        cls,
        bounds_lonlat: Sequence[float],
        cell_size_m: float = 100.0,
        *,
        margin_m: float = 0.0,
    ) -> Grid:
        """Build the smallest snapped grid covering a longitude/latitude box.

        Parameters
        ----------
        bounds_lonlat : sequence of float
            ``(min_lon, min_lat, max_lon, max_lat)`` in WGS84 degrees, e.g. a shapely
            geometry's ``bounds``.
        cell_size_m : float, default 100
            Cell side in metres.
        margin_m : float, default 0
            Extra distance added on every side (useful for kernel density, whose mass
            would otherwise spill off the grid near its edges).

        Returns
        -------
        Grid
            A grid whose origin is a multiple of ``cell_size_m``, so that grids built
            from different bounds with the same cell size share cell edges.
        """
        min_lon, min_lat, max_lon, max_lat = (float(b) for b in bounds_lonlat)
        # A lon/lat box is not a rectangle in BNG: densified edges give its true extent.
        xmin, ymin, xmax, ymax = _transformer_to_bng().transform_bounds(
            min_lon, min_lat, max_lon, max_lat, densify_pts=21
        )
        xmin, ymin = xmin - margin_m, ymin - margin_m
        xmax, ymax = xmax + margin_m, ymax + margin_m
        x0 = math.floor(xmin / cell_size_m) * cell_size_m
        y0 = math.floor(ymin / cell_size_m) * cell_size_m
        # floor(...) + 1 keeps a point lying exactly on the max edge inside the grid.
        nx = math.floor((xmax - x0) / cell_size_m) + 1
        ny = math.floor((ymax - y0) / cell_size_m) + 1
        return cls(float(x0), float(y0), float(cell_size_m), int(nx), int(ny))

    @property
    def shape(self) -> tuple[int, int]:
        """Array shape ``(ny, nx)`` of per-cell arrays."""
        return (self.ny, self.nx)

    @property
    def cell_area_km2(self) -> float:
        """Area of one cell in square kilometres."""
        return (self.cell_size / 1000.0) ** 2

    @property
    def bounds_bng(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the whole grid in metres."""
        return (
            self.x0,
            self.y0,
            self.x0 + self.nx * self.cell_size,
            self.y0 + self.ny * self.cell_size,
        )

    def cell_index(
        self, x: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.bool_]]:
        """Locate BNG points on the grid.

        Parameters
        ----------
        x, y : array_like
            Eastings and northings in metres.

        Returns
        -------
        iy, ix : ndarray of intp
            Row and column of each point (-1 where the point is off the grid).
        inside : ndarray of bool
            True where the point falls on the grid (NaN coordinates are outside).
        """
        fx = (np.asarray(x, dtype=np.float64) - self.x0) / self.cell_size
        fy = (np.asarray(y, dtype=np.float64) - self.y0) / self.cell_size
        # Comparisons with NaN are False, so invalid coordinates drop out here.
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        ix = np.where(inside, np.floor(np.where(inside, fx, 0)), -1).astype(np.intp)
        iy = np.where(inside, np.floor(np.where(inside, fy, 0)), -1).astype(np.intp)
        return iy, ix, inside

    def centres(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Cell-centre eastings and northings, each of shape ``(ny, nx)``."""
        xs = self.x0 + (np.arange(self.nx) + 0.5) * self.cell_size
        ys = self.y0 + (np.arange(self.ny) + 0.5) * self.cell_size
        xx, yy = np.meshgrid(xs, ys)
        return xx, yy

    def centres_lonlat(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Cell-centre longitudes and latitudes, each of shape ``(ny, nx)``."""
        xx, yy = self.centres()
        return to_lonlat(xx, yy)

    def cell_polygons_lonlat(self, iy: ArrayLike, ix: ArrayLike) -> NDArray[np.float64]:
        """Corners of cells as closed longitude/latitude rings, for mapping.

        Parameters
        ----------
        iy, ix : array_like of int
            Rows and columns of the cells (e.g. from ``np.nonzero(mask)``).

        Returns
        -------
        ndarray of float64, shape (k, 5, 2)
            For each cell the ring south-west, south-east, north-east, north-west,
            south-west as ``[lon, lat]`` pairs (GeoJSON order, counter-clockwise).
            Each corner is projected exactly; the edges between them are straight in
            lon/lat, which at 100 m is indistinguishable from the BNG square.
        """
        iy = np.atleast_1d(np.asarray(iy, dtype=np.float64))
        ix = np.atleast_1d(np.asarray(ix, dtype=np.float64))
        dx = np.array([0.0, 1.0, 1.0, 0.0, 0.0])
        dy = np.array([0.0, 0.0, 1.0, 1.0, 0.0])
        x = self.x0 + (ix[:, None] + dx[None, :]) * self.cell_size
        y = self.y0 + (iy[:, None] + dy[None, :]) * self.cell_size
        lon, lat = to_lonlat(x, y)
        return np.stack([lon, lat], axis=-1)

    def mask_from_geometry(
        self, geometry_lonlat: BaseGeometry, *, min_fraction: float | None = None
    ) -> NDArray[np.bool_]:
        """Cells of the study area given as a polygon.

        Parameters
        ----------
        geometry_lonlat : shapely geometry
            Study-area polygon in WGS84 longitude/latitude.
        min_fraction : float, optional
            When None (default), a cell belongs to the area when its centre lies inside
            the polygon or on its boundary. Otherwise, when at least this fraction of
            its area lies inside (see `coverage`); e.g. 0.9 drops the partial cells
            along the boundary, whose smaller exposure makes them look cold when
            volumes are high.

        Returns
        -------
        ndarray of bool, shape (ny, nx)
            True for cells in the study area.
        """
        if min_fraction is not None:
            return np.asarray(self.coverage(geometry_lonlat) >= min_fraction, dtype=bool)
        geometry_bng = _project_geometry(geometry_lonlat)
        shapely.prepare(geometry_bng)
        xx, yy = self.centres()
        # intersects_xy counts boundary points, the ST_Covers semantics used elsewhere.
        return np.asarray(shapely.intersects_xy(geometry_bng, xx, yy), dtype=bool)

    def coverage(self, geometry_lonlat: BaseGeometry) -> NDArray[np.float64]:
        """Fraction of each cell's area inside a polygon.

        Parameters
        ----------
        geometry_lonlat : shapely geometry
            Polygon in WGS84 longitude/latitude.

        Returns
        -------
        ndarray of float64, shape (ny, nx)
            Values in [0, 1].
        """
        geometry_bng = _project_geometry(geometry_lonlat)
        shapely.prepare(geometry_bng)
        xs = self.x0 + np.arange(self.nx) * self.cell_size
        ys = self.y0 + np.arange(self.ny) * self.cell_size
        xx, yy = np.meshgrid(xs, ys)
        boxes = shapely.box(xx, yy, xx + self.cell_size, yy + self.cell_size)
        area = shapely.area(shapely.intersection(boxes, geometry_bng))
        return np.clip(area / self.cell_size**2, 0.0, 1.0)


def bin_points_bng(x: ArrayLike, y: ArrayLike, grid: Grid) -> NDArray[np.int64]:
    """Count BNG points per grid cell.

    Parameters
    ----------
    x, y : array_like
        Eastings and northings in metres.
    grid : Grid
        The grid to count on.

    Returns
    -------
    ndarray of int64, shape (ny, nx)
        Number of points per cell. Points off the grid (or with NaN coordinates) are
        not counted.
    """
    fx = (np.asarray(x, dtype=np.float64) - grid.x0) / grid.cell_size
    fy = (np.asarray(y, dtype=np.float64) - grid.y0) / grid.cell_size
    inside = (fx >= 0) & (fx < grid.nx) & (fy >= 0) & (fy < grid.ny)
    # Truncation equals floor for the non-negative values that remain.
    flat = fy[inside].astype(np.intp) * grid.nx + fx[inside].astype(np.intp)
    counts = np.bincount(flat, minlength=grid.nx * grid.ny)
    return counts.astype(np.int64, copy=False).reshape(grid.shape)


def bin_points(lons: ArrayLike, lats: ArrayLike, grid: Grid) -> NDArray[np.int64]:
    """Count WGS84 points per grid cell.

    Parameters
    ----------
    lons, lats : array_like
        Longitudes and latitudes in degrees.
    grid : Grid
        The grid to count on.

    Returns
    -------
    ndarray of int64, shape (ny, nx)
        Number of points per cell; points off the grid are not counted.

    Examples
    --------
    >>> grid = Grid.covering((-0.03, 51.44, -0.01, 51.45), 100)
    >>> int(bin_points([-0.0207], [51.4452], grid).sum())
    1
    """
    x, y = to_bng(lons, lats)
    return bin_points_bng(x, y, grid)


def bin_points_windows(
    lons: ArrayLike,
    lats: ArrayLike,
    window: ArrayLike,
    n_windows: int,
    grid: Grid,
) -> NDArray[np.int64]:
    """Count points per time window and grid cell in one pass.

    Parameters
    ----------
    lons, lats : array_like
        Longitudes and latitudes in degrees.
    window : array_like of int
        Window index of each point, in ``[0, n_windows)``; points with other values are
        ignored (e.g. -1 for "no window").
    n_windows : int
        Number of windows ``T``.
    grid : Grid
        The grid to count on.

    Returns
    -------
    ndarray of int64, shape (T, ny, nx)
        Counts per window and cell, the input of `emerging_hotspots`.
    """
    x, y = to_bng(lons, lats)
    iy, ix, inside = grid.cell_index(x, y)
    w = np.asarray(window, dtype=np.int64)
    keep = inside & (w >= 0) & (w < n_windows)
    flat = (w[keep] * grid.ny + iy[keep]) * grid.nx + ix[keep]
    counts = np.bincount(flat, minlength=n_windows * grid.ny * grid.nx)
    return counts.astype(np.int64, copy=False).reshape(n_windows, grid.ny, grid.nx)


def bin_points_h3(
    lons: ArrayLike, lats: ArrayLike, resolution: int = 9
) -> tuple[NDArray[np.str_], NDArray[np.int64]]:
    """Count points per H3 hexagon (needs the optional ``h3>=4,<5`` package).

    Parameters
    ----------
    lons, lats : array_like
        Longitudes and latitudes in degrees.
    resolution : int, default 9
        H3 resolution (9 is about 0.1 km² per cell, comparable to a 100 m square;
        10 about 0.015 km²).

    Returns
    -------
    cells : ndarray of str
        Distinct H3 cell ids (hexadecimal strings), sorted.
    counts : ndarray of int64
        Number of points in each cell.

    Notes
    -----
    Gi* in this module runs on the square grid only; hexagons are offered for display
    and for aggregates exchanged with systems that use H3.
    """
    try:
        import h3  # optional dependency, imported only when used
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("bin_points_h3 needs the optional package 'h3>=4,<5'") from exc
    lon_list = np.asarray(lons, dtype=np.float64).tolist()
    lat_list = np.asarray(lats, dtype=np.float64).tolist()
    to_cell = h3.api.basic_int.latlng_to_cell
    ids = np.fromiter(
        (to_cell(lat, lon, resolution) for lat, lon in zip(lat_list, lon_list, strict=True)),
        dtype=np.uint64,
        count=len(lat_list),
    )
    unique, counts = np.unique(ids, return_counts=True)
    cells = np.array([h3.int_to_str(int(c)) for c in unique], dtype=str)
    order = np.argsort(cells)
    return cells[order], counts[order].astype(np.int64)


# --------------------------------------------------------------------------------- Gi*


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
    ``_conditional_permutation_counts``), in ``O(permutations * W + n log
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
        n_ge, n_le = _conditional_permutation_counts(
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
        tails = _exact_conditional_tails(y, card.astype(np.int64) - 1, lag - y)
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


# Upper bound on the element operations of the exact computation (about 0.5 s on the
# 2-core machines); above it counts are large, where the normal approximation is good.
EXACT_COST_LIMIT = 1e9


def _exact_conditional_tails(
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
    focal = np.unique(inverse[n_others > 0])
    cost = float(focal.size) * values.size * j_max * (j_max + 1) * (s_max + 1)
    if cost > cost_limit:
        return None
    log_total = (
        special.gammaln(n) - special.gammaln(np.arange(j_max + 1) + 1.0)
    ) - special.gammaln(n - np.arange(j_max + 1.0))
    obs = np.rint(observed_others).astype(np.int64)
    for k in focal.tolist():
        h = hist.copy()
        h[k] -= 1
        # table[j, s]: number of ways to pick j of the other cells with values summing
        # to s. Entries stay below C(n - 1, j), far inside float64 range.
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
        # Tails are summed from their own end, so small probabilities keep their
        # relative accuracy (no 1 - x cancellation).
        at_least = np.cumsum(prob[:, ::-1], axis=1)[:, ::-1]
        at_most = np.cumsum(prob, axis=1)
        cells = np.flatnonzero((inverse == k) & (n_others > 0))
        c = n_others[cells]
        o = obs[cells]
        upper[cells] = np.minimum(at_least[c, o], 1.0)
        lower[cells] = np.minimum(at_most[c, o], 1.0)
    return upper, lower


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


def _conditional_permutation_counts(
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


def classify_hotspots(
    direction: ArrayLike,
    p: ArrayLike,
    *,
    fdr: bool = True,
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
    labels = np.empty(pv.shape, dtype="<U15")
    for b, name in _BIN_LABELS.items():
        labels[gi_bin == b] = name
    labels[np.isnan(pv)] = OUTSIDE
    return gi_bin, labels, q


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class HotspotResult:
    """One hotspot run: grid, counts, Gi* statistics and significance per cell.

    Attributes
    ----------
    grid : Grid
        The grid the points were binned on.
    counts : ndarray of int64, shape (ny, nx)
        Points per cell.
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
    q : ndarray of float64
        Benjamini-Hochberg adjusted p-values of the p-values used for classification.
    gi_bin : ndarray of int8
        -3..3 significance bins (see `classify_hotspots`).
    labels : ndarray of str
        ``"hot-99"`` ... ``"cold-99"``, ``"not-significant"``, ``"outside"``.
    params : dict
        How the run was made: cell size, neighbourhood, permutations, seed, p-value
        source, FDR, number of points used and dropped.
    """

    grid: Grid
    counts: NDArray[np.int64]
    mask: NDArray[np.bool_]
    kernel: NDArray[np.bool_]
    z: NDArray[np.float64]
    p: NDArray[np.float64]
    p_sim: NDArray[np.float64] | None
    p_sim_two_sided: NDArray[np.float64] | None
    p_exact: NDArray[np.float64] | None
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
            gi_bin, label``.
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
                        "count": int(self.counts[r, c]),
                        "z": float(self.z[r, c]),
                        "p": float(self.p[r, c]),
                        "q": float(self.q[r, c]),
                        "gi_bin": int(self.gi_bin[r, c]),
                        "label": str(self.labels[r, c]),
                    },
                }
            )
        return features


def _resolve_grid(
    lons: NDArray[np.float64],
    lats: NDArray[np.float64],
    cell_size_m: float,
    mask: NDArray[np.bool_] | BaseGeometry | None,
    bounds: Sequence[float] | None,
    grid: Grid | None,
    margin_m: float = 0.0,
) -> Grid:
    if grid is not None:
        return grid
    if bounds is not None:
        return Grid.covering(bounds, cell_size_m, margin_m=margin_m)
    if isinstance(mask, BaseGeometry):
        return Grid.covering(mask.bounds, cell_size_m, margin_m=margin_m)
    if mask is not None:
        raise ValueError("an array mask needs the grid (or bounds) it was built on")
    ok = np.isfinite(lons) & np.isfinite(lats)
    if not ok.any():
        raise ValueError("no finite points to take bounds from; pass bounds or grid")
    box = (lons[ok].min(), lats[ok].min(), lons[ok].max(), lats[ok].max())
    return Grid.covering(box, cell_size_m, margin_m=margin_m)


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
    p_source: Literal["auto", "exact", "permutation", "analytical"] = "auto",
    fdr: bool = True,
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
        p-values have neither problem.
    fdr : bool, default True
        Benjamini-Hochberg control across the analysed cells.

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
    g = _resolve_grid(
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
    counts = bin_points(lon, lat, g)
    if p_source not in ("auto", "exact", "permutation", "analytical"):
        raise ValueError(f"unknown p_source {p_source!r}")
    gi = getis_ord_gi_star(
        counts,
        kernel,
        mask=m,
        permutations=permutations,
        seed=seed,
        exact={"exact": True, "auto": None}.get(p_source, False),
    )

    source = p_source
    if source == "auto":
        if gi.p_exact is not None:
            source = "exact"
        elif permutations > 0:
            source = "permutation"
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
    gi_bin, labels, q = classify_hotspots(direction, p_used, fdr=fdr)

    n_on_grid = int(counts.sum())
    params = {
        "cell_size_m": g.cell_size,
        "neighbourhood_m": neighbourhood_m,
        "neighbourhood_cells": None if neighbourhood_m is not None else (neighbourhood_cells or 1),
        "neighbourhood_size": int(kernel.sum()),
        "permutations": int(permutations),
        "seed": seed,
        "p_source": source,
        "fdr": fdr,
        "n_cells": gi.n,
        "n_points": int(lon.size),
        "n_points_off_grid": int(lon.size) - n_on_grid,
        "n_points_outside_mask": n_on_grid - int(counts[m].sum()),
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
        q=q,
        gi_bin=gi_bin,
        labels=labels,
        params=params,
    )


# ------------------------------------------------------------------------ kernel density


def silverman_bandwidth(
    x: ArrayLike,
    y: ArrayLike,
    *,
    clamp_m: tuple[float, float] | None = (100.0, 400.0),
) -> tuple[float, float]:
    r"""Isotropic Gaussian bandwidth by Silverman's rule of thumb in two dimensions.

    .. math:: h = \hat\sigma\, n^{-1/6}, \qquad
              \hat\sigma = \sqrt{(\hat\sigma_x^2 + \hat\sigma_y^2) / 2},\quad
              \hat\sigma_\cdot = \min(\mathrm{sd}, \mathrm{IQR} / 1.349)

    (for ``d = 2`` Silverman's and Scott's factors coincide:
    :math:`(4 / (d + 2))^{1/(d+4)} = 1`). The rule targets a single Gaussian blob, so
    for a whole borough it over-smooths; it is clamped to an urban range.

    Parameters
    ----------
    x, y : array_like
        Projected coordinates in metres.
    clamp_m : (float, float) or None, default (100, 400)
        Lower and upper limits; None to return the raw rule value.

    Returns
    -------
    h : float
        Bandwidth in metres (clamped).
    h_raw : float
        The rule's value before clamping.

    References
    ----------
    .. [1] Silverman, B. W. (1986). *Density Estimation for Statistics and Data
       Analysis*. Chapman & Hall, section 4.3.2.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    n = xa.size
    if n < 2:
        h_raw = float("nan")
    else:

        def robust_sd(v: NDArray[np.float64]) -> float:
            sd = float(v.std(ddof=1))
            q75, q25 = np.percentile(v, [75, 25])
            iqr = float(q75 - q25) / 1.349
            return min(sd, iqr) if iqr > 0 else sd

        sigma = math.sqrt((robust_sd(xa) ** 2 + robust_sd(ya) ** 2) / 2.0)
        h_raw = sigma * n ** (-1.0 / 6.0)
    if clamp_m is None:
        return h_raw, h_raw
    lo, hi = clamp_m
    h = lo if not math.isfinite(h_raw) else min(max(h_raw, lo), hi)
    return float(h), float(h_raw)


@dataclass(frozen=True, eq=False)
class DensityResult:
    """Kernel density surface on a grid.

    Attributes
    ----------
    grid : Grid
        Grid of the surface.
    density : ndarray of float64, shape (ny, nx)
        Estimated intensity in points per km² at each cell; ``density.sum() *
        grid.cell_area_km2`` is the number of points (less any mass that spills off the
        grid edges).
    bandwidth_m : float
        Gaussian standard deviation used, in metres.
    rule : str
        ``"given"`` or ``"silverman-2d"`` (with the clamp noted when it applied).
    n_points : int
        Points on the grid.
    """

    grid: Grid
    density: NDArray[np.float64]
    bandwidth_m: float
    rule: str
    n_points: int


def _linear_bin(x: NDArray[np.float64], y: NDArray[np.float64], grid: Grid) -> NDArray[np.float64]:
    # Linear (cloud-in-cell) binning shares each point between the four nearest cell
    # centres; it keeps the binned KDE accurate when the bandwidth is close to the cell
    # size (Wand & Jones 1995, appendix D), where simple binning would shift mass by up
    # to half a cell.
    u = (x - grid.x0) / grid.cell_size - 0.5
    v = (y - grid.y0) / grid.cell_size - 0.5
    ok = np.isfinite(u) & np.isfinite(v)
    u, v = u[ok], v[ok]
    i0 = np.floor(u)
    j0 = np.floor(v)
    fu = u - i0
    fv = v - j0
    i0 = i0.astype(np.int64)
    j0 = j0.astype(np.int64)
    size = grid.nx * grid.ny
    out = np.zeros(size)
    for di, wi in ((0, 1.0 - fu), (1, fu)):
        for dj, wj in ((0, 1.0 - fv), (1, fv)):
            ii = i0 + di
            jj = j0 + dj
            keep = (ii >= 0) & (ii < grid.nx) & (jj >= 0) & (jj < grid.ny)
            out += np.bincount(
                jj[keep] * grid.nx + ii[keep], weights=(wi * wj)[keep], minlength=size
            )
    return out.reshape(grid.shape)


def kernel_density(
    lons: ArrayLike,
    lats: ArrayLike,
    *,
    grid: Grid | None = None,
    cell_size_m: float = 100.0,
    bandwidth_m: float | None = None,
    bounds: Sequence[float] | None = None,
    clamp_m: tuple[float, float] = (100.0, 400.0),
    truncate: float = 4.0,
) -> DensityResult:
    """Gaussian kernel density of points on a grid, in points per km².

    Points are linearly binned to cell centres, then smoothed with a separable Gaussian
    filter (``scipy.ndimage.gaussian_filter``, zero outside the grid), so the cost is
    ``O(points + cells * bandwidth / cell)``.

    Parameters
    ----------
    lons, lats : array_like
        WGS84 locations in degrees.
    grid : Grid, optional
        Output grid; default one covering ``bounds`` (or the points) with a margin of
        three bandwidths, so little mass is lost off the edges.
    cell_size_m : float, default 100
        Cell side when the grid is built here.
    bandwidth_m : float, optional
        Gaussian standard deviation in metres; default by `silverman_bandwidth`,
        clamped to ``clamp_m``.
    bounds : sequence of float, optional
        ``(min_lon, min_lat, max_lon, max_lat)`` for the grid.
    clamp_m : (float, float), default (100, 400)
        Range for the default bandwidth: narrower than 100 m resolves single
        addresses, wider than 400 m blurs town centres together.
    truncate : float, default 4
        Kernel radius in bandwidths.

    Returns
    -------
    DensityResult

    References
    ----------
    .. [1] Silverman, B. W. (1986). *Density Estimation for Statistics and Data
       Analysis*. Chapman & Hall.
    .. [2] Wand, M. P. and Jones, M. C. (1995). *Kernel Smoothing*. Chapman & Hall.
    """
    lon = np.asarray(lons, dtype=np.float64).ravel()
    lat = np.asarray(lats, dtype=np.float64).ravel()
    x, y = to_bng(lon, lat)
    finite = np.isfinite(x) & np.isfinite(y)
    if bandwidth_m is None:
        h, h_raw = silverman_bandwidth(x[finite], y[finite], clamp_m=clamp_m)
        rule = "silverman-2d"
        if h != h_raw:
            rule += f" (rule gave {h_raw:.0f} m, clamped to {clamp_m[0]:.0f}-{clamp_m[1]:.0f} m)"
    else:
        if not bandwidth_m > 0:
            raise ValueError("bandwidth_m must be positive")
        h, rule = float(bandwidth_m), "given"
    g = _resolve_grid(lon, lat, cell_size_m, None, bounds, grid, margin_m=3.0 * h)
    binned = _linear_bin(x[finite], y[finite], g)
    smoothed = ndimage.gaussian_filter(
        binned, sigma=h / g.cell_size, mode="constant", cval=0.0, truncate=truncate
    )
    return DensityResult(
        grid=g,
        density=smoothed / g.cell_area_km2,
        bandwidth_m=h,
        rule=rule,
        n_points=round(float(binned.sum())),
    )


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

    Returns
    -------
    EmergingResult
        Its ``params`` also record ``fdr`` and ``p_source``.
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
        gi = getis_ord_gi_star(counts[i], kernel, mask=mask, exact=exact)
        zs[i] = gi.z
        if gi.p_exact is not None and gi.exact_direction is not None:
            bins[i], _, _ = classify_hotspots(gi.exact_direction, gi.p_exact, fdr=fdr)
        else:
            bins[i], _, _ = classify_hotspots(gi.z, gi.p, fdr=fdr)
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
    return result


# ------------------------------------------------------------------------------- time


def _as_utc_datetime64(timestamps: ArrayLike | Sequence[datetime]) -> NDArray[np.datetime64]:
    """Timestamps as ``datetime64[s]`` in UTC.

    numpy datetimes and naive ``datetime`` objects are taken to be UTC already (the
    database stores UTC); aware ``datetime`` objects are converted.
    """
    if isinstance(timestamps, datetime):
        timestamps = [timestamps]
    arr = np.asarray(timestamps)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[s]").ravel()
    if arr.size == 0:
        return np.array([], dtype="datetime64[s]")
    if arr.dtype.kind in "US":
        return arr.astype("datetime64[s]").ravel()
    out = np.empty(arr.size, dtype="datetime64[s]")
    for k, ts in enumerate(arr.ravel().tolist()):
        if not isinstance(ts, datetime):
            out[k] = np.datetime64(ts, "s")
            continue
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        out[k] = np.datetime64(ts, "s")
    return out


def _london_local(utc: NDArray[np.datetime64]) -> NDArray[np.datetime64]:
    """UTC ``datetime64[s]`` to Europe/London wall-clock ``datetime64[s]``."""
    if utc.size == 0:
        return utc
    # UK offsets change only on whole UTC hours, so the offset is looked up once per
    # distinct hour (a few tens of thousands over years) instead of once per timestamp.
    hours, inverse = np.unique(utc.astype("datetime64[h]"), return_inverse=True)
    epoch = hours.astype("datetime64[s]").astype(np.int64).tolist()
    offsets = np.array(
        [
            int(datetime.fromtimestamp(sec, tz=LONDON).utcoffset().total_seconds())  # type: ignore[union-attr]
            for sec in epoch
        ],
        dtype=np.int64,
    )
    return utc + offsets[inverse.ravel()].astype("timedelta64[s]")


def time_profile(timestamps: ArrayLike | Sequence[datetime]) -> NDArray[np.int64]:
    """Counts by day of week and hour of day in London local time.

    Parameters
    ----------
    timestamps : array_like of datetime64 or sequence of datetime
        Event times. numpy datetimes and naive datetimes are UTC; aware datetimes are
        converted. Local time follows Europe/London (GMT/BST) from `zoneinfo`.

    Returns
    -------
    ndarray of int64, shape (7, 24)
        ``profile[d, h]``: events on weekday ``d`` (0 = Monday ... 6 = Sunday) in the
        local hour starting at ``h``. Around the October change the repeated hour
        01:00-02:00 collects both passes; in March 01:00-02:00 stays empty.
    """
    local = _london_local(_as_utc_datetime64(timestamps))
    sec = local.astype(np.int64)
    days = np.floor_divide(sec, 86400)
    # 1970-01-01 was a Thursday (3 with Monday = 0).
    dow = (days + 3) % 7
    hour = np.floor_divide(sec - days * 86400, 3600)
    return np.bincount(dow * 24 + hour, minlength=168).astype(np.int64).reshape(7, 24)


def _solar_terms(jd: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solar declination (radians) and equation of time (minutes) at Julian dates.

    The NOAA Solar Calculator formulae (after Meeus, *Astronomical Algorithms*).
    """
    jc = (jd - 2451545.0) / 36525.0
    l0 = np.mod(280.46646 + jc * (36000.76983 + jc * 0.0003032), 360.0)
    m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc)
    e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    mr = np.radians(m)
    c = (
        np.sin(mr) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + np.sin(2 * mr) * (0.019993 - 0.000101 * jc)
        + np.sin(3 * mr) * 0.000289
    )
    true_long = l0 + c
    omega = np.radians(125.04 - 1934.136 * jc)
    app_long = true_long - 0.00569 - 0.00478 * np.sin(omega)
    mean_obliq = (
        23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0
    )
    obliq = np.radians(mean_obliq + 0.00256 * np.cos(omega))
    decl = np.arcsin(np.sin(obliq) * np.sin(np.radians(app_long)))
    var_y = np.tan(obliq / 2.0) ** 2
    l0r = np.radians(l0)
    eq_time = 4.0 * np.degrees(
        var_y * np.sin(2 * l0r)
        - 2 * e * np.sin(mr)
        + 4 * e * var_y * np.sin(mr) * np.cos(2 * l0r)
        - 0.5 * var_y**2 * np.sin(4 * l0r)
        - 1.25 * e**2 * np.sin(2 * mr)
    )
    return decl, eq_time


def sun_times(
    dates: ArrayLike,
    *,
    lat: float = LEWISHAM_LAT,
    lon: float = LEWISHAM_LON,
    zenith_deg: float = OFFICIAL_ZENITH_DEG,
) -> tuple[NDArray[np.datetime64], NDArray[np.datetime64]]:
    """Sunrise and sunset (UTC) for each date, by the NOAA solar-position formulae.

    Parameters
    ----------
    dates : array_like of datetime64 or date
        Calendar dates (UTC days).
    lat, lon : float
        Latitude and longitude in degrees (east positive); default Catford, Lewisham.
    zenith_deg : float, default 90.833
        Solar zenith angle defining the event: 90.833 for official sunrise/sunset, 96
        for civil twilight.

    Returns
    -------
    sunrise, sunset : ndarray of datetime64[s]
        UTC instants. Where the sun never reaches the zenith angle (polar day or
        night; not at London's latitude) both are NaT.

    Notes
    -----
    Declination and the equation of time are evaluated at the event itself (two
    passes, as the NOAA calculator does), which keeps the error within about a minute
    at mid latitudes; the published times are rounded to the minute anyway.

    References
    ----------
    .. [1] NOAA Global Monitoring Laboratory, "Solar Calculation Details" (the NOAA
       Solar Calculator spreadsheet).
    .. [2] Meeus, J. (1991). *Astronomical Algorithms*. Willmann-Bell.
    """
    d = np.asarray(dates, dtype="datetime64[D]").ravel()
    jd_midnight = d.astype(np.int64).astype(np.float64) + 2440587.5
    lat_r = math.radians(lat)
    cos_zenith = math.cos(math.radians(zenith_deg))
    noon_guess = 720.0 - 4.0 * lon
    result = []
    for direction in (-1.0, 1.0):
        minutes = np.full(d.shape, noon_guess)
        valid = np.ones(d.shape, dtype=bool)
        for _ in range(2):
            decl, eq_time = _solar_terms(jd_midnight + minutes / 1440.0)
            cos_ha = cos_zenith / (math.cos(lat_r) * np.cos(decl)) - math.tan(lat_r) * np.tan(decl)
            valid = np.abs(cos_ha) <= 1.0
            ha_deg = np.degrees(np.arccos(np.clip(cos_ha, -1.0, 1.0)))
            minutes = 720.0 - 4.0 * lon - eq_time + direction * 4.0 * ha_deg
        secs = np.rint(minutes * 60.0).astype(np.int64)
        event = d.astype("datetime64[s]") + secs.astype("timedelta64[s]")
        event[~valid] = np.datetime64("NaT")
        result.append(event)
    return result[0], result[1]


def after_dark(
    timestamps_utc: ArrayLike | Sequence[datetime],
    *,
    lat: float = LEWISHAM_LAT,
    lon: float = LEWISHAM_LON,
    zenith_deg: float = OFFICIAL_ZENITH_DEG,
) -> NDArray[np.bool_]:
    """Whether each instant is between sunset and sunrise at Lewisham.

    Parameters
    ----------
    timestamps_utc : array_like of datetime64 or sequence of datetime
        Instants; numpy and naive values are UTC, aware ones are converted.
    lat, lon : float
        Where the sun is observed; default Catford, Lewisham.
    zenith_deg : float, default 90.833
        90.833 for official sunset/sunrise; 96 to count civil twilight as light.

    Returns
    -------
    ndarray of bool
        True before that UTC day's sunrise or at/after its sunset. At London's
        longitude solar noon is within 20 minutes of 12:00 UTC, so the UTC day always
        contains the whole daylight period around the instant.
    """
    utc = _as_utc_datetime64(timestamps_utc)
    if utc.size == 0:
        return np.zeros(0, dtype=bool)
    days = utc.astype("datetime64[D]")
    uniq, inverse = np.unique(days, return_inverse=True)
    rise, set_ = sun_times(uniq, lat=lat, lon=lon, zenith_deg=zenith_deg)
    rise_i = rise[inverse.ravel()]
    set_i = set_[inverse.ravel()]
    return np.asarray((utc < rise_i) | (utc >= set_i), dtype=bool)


def is_after_dark(instant: datetime) -> bool:
    """Whether one instant (naive means UTC) is between sunset and sunrise at Lewisham.

    The same answer as ``after_dark`` for one instant; the day's sun times are cached, as a
    report is checked on every submission and most submissions share a day.
    """
    utc = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
    rise, set_ = _daylight(utc.date().isoformat())
    return utc < rise or utc >= set_


@lru_cache(maxsize=64)
def _daylight(day: str) -> tuple[datetime, datetime]:
    rise, set_ = sun_times(np.array([day], dtype="datetime64[D]"))
    return _aware(rise[0]), _aware(set_[0])


def _aware(instant: np.datetime64) -> datetime:
    return datetime.fromisoformat(str(instant.astype("datetime64[us]"))).replace(tzinfo=UTC)


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
