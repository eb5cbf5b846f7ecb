"""A regular British National Grid lattice and binning points onto it (also by time window and
on H3 cells).

Grid origins are snapped to multiples of the cell size, so grids built for different runs or
time windows line up cell for cell. Row 0 is the southernmost row.

A report placed from typed text ("Catford Broadway") is somewhere in a street or area, not at
its gazetteer point: `Extents` spreads it over the cells its extent covers, with weights
summing to 1 (by area for an area, by length for a line), so twenty such reports make twenty
reports' worth of counts across the street's cells rather than one false hot cell. Every
binning function takes ``weights`` for that."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from geo.projection import project_geometry, to_bng, to_lonlat, transformer_to_bng

CellWeights = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]

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
        xmin, ymin, xmax, ymax = transformer_to_bng().transform_bounds(
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
        geometry_bng = project_geometry(geometry_lonlat)
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
        geometry_bng = project_geometry(geometry_lonlat)
        shapely.prepare(geometry_bng)
        xs = self.x0 + np.arange(self.nx) * self.cell_size
        ys = self.y0 + np.arange(self.ny) * self.cell_size
        xx, yy = np.meshgrid(xs, ys)
        boxes = shapely.box(xx, yy, xx + self.cell_size, yy + self.cell_size)
        area = shapely.area(shapely.intersection(boxes, geometry_bng))
        return np.clip(area / self.cell_size**2, 0.0, 1.0)


# ------------------------------------------------------------------------ extents


def cell_weights(extent_bng: BaseGeometry, cell_size: float) -> CellWeights:
    """The cells an extent covers and its share in each.

    Parameters
    ----------
    extent_bng : shapely geometry
        A polygon, line or points in British National Grid metres.
    cell_size : float
        Cell side in metres, of a grid snapped to multiples of it (every `Grid.covering`).

    Returns
    -------
    gx, gy : ndarray of int64
        Snapped column ``floor(x / cell_size)`` and row ``floor(y / cell_size)`` of each
        covered cell; a grid's own column is ``gx - x0 / cell_size``.
    weight : ndarray of float64
        Share of the extent in each cell, summing to 1: by area for a polygon, by length for
        a line, equal shares among points (also for a line or polygon of no size).
    """
    if extent_bng.is_empty:
        raise ValueError("an empty extent covers no cells")
    xmin, ymin, xmax, ymax = extent_bng.bounds
    cols = np.arange(math.floor(xmin / cell_size), math.floor(xmax / cell_size) + 1)
    rows = np.arange(math.floor(ymin / cell_size), math.floor(ymax / cell_size) + 1)
    gx, gy = (a.ravel().astype(np.int64) for a in np.meshgrid(cols, rows))
    measure = None
    if extent_bng.area > 0 or extent_bng.length > 0:
        shapely.prepare(extent_bng)
        boxes = shapely.box(
            gx * cell_size, gy * cell_size, (gx + 1) * cell_size, (gy + 1) * cell_size
        )
        pieces = shapely.intersection(boxes, extent_bng)
        measure = shapely.area(pieces) if extent_bng.area > 0 else shapely.length(pieces)
    if measure is None or not measure.sum() > 0:
        xy = shapely.get_coordinates(extent_bng)
        px = np.floor(xy[:, 0] / cell_size).astype(np.int64) - cols[0]
        py = np.floor(xy[:, 1] / cell_size).astype(np.int64) - rows[0]
        measure = np.bincount(py * cols.size + px, minlength=gx.size).astype(np.float64)
    keep = measure > 0
    return gx[keep], gy[keep], measure[keep] / measure[keep].sum()


@dataclass(frozen=True)
class Pieces:
    """Points to bin with weights: whole reports at their points, and the shares of spread
    reports at the centres of the cells they cover (WGS84 and British National Grid).
    ``group`` is carried along (a time window), None when not asked for."""

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    weight: NDArray[np.float64]
    group: NDArray[np.int64] | None

    @property
    def projected(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(x, y)``, as the binning functions take it."""
        return self.x, self.y


@dataclass(frozen=True)
class Extents:
    """The extents reports may be spread over, in British National Grid metres, by index.

    Cell weights are worked out once per extent and cell size (``cell_weights``), so the
    nightly runs, which share a cell size, pay for each street or area once.
    """

    geometries: tuple[BaseGeometry, ...] = ()
    _weights: dict[tuple[int, float], CellWeights] = field(
        default_factory=dict, repr=False, compare=False
    )

    def weights(self, index: int, cell_size: float) -> CellWeights:
        """``cell_weights`` of extent ``index``."""
        key = (index, float(cell_size))
        if key not in self._weights:
            self._weights[key] = cell_weights(self.geometries[index], cell_size)
        return self._weights[key]

    def spread(
        self,
        lonlat: tuple[ArrayLike, ArrayLike],
        projected: tuple[ArrayLike, ArrayLike],
        extent: ArrayLike,
        cell_size: float,
        *,
        group: ArrayLike | None = None,
    ) -> Pieces:
        """Reports as `Pieces`: those with ``extent`` < 0 whole at their point (given as
        ``lonlat`` and ``projected``), the others shared over the cells of
        ``geometries[extent]``. Reports with the same extent and group are spread together,
        so the cost is per street, not per report."""
        lon, lat = (np.asarray(a, dtype=np.float64) for a in lonlat)
        x, y = (np.asarray(a, dtype=np.float64) for a in projected)
        index = np.asarray(extent, dtype=np.int64)
        groups = None if group is None else np.asarray(group, dtype=np.int64)
        whole = index < 0
        xs, ys, ws = [x[whole]], [y[whole]], [np.ones(int(whole.sum()))]
        gs = [] if groups is None else [groups[whole]]
        if not whole.all():
            spread_groups = np.zeros(index.size, dtype=np.int64) if groups is None else groups
            keys = np.column_stack([index[~whole], spread_groups[~whole]])
            unique, times = np.unique(keys, axis=0, return_counts=True)
            for (k, g), n in zip(unique.tolist(), times.tolist(), strict=True):
                gx, gy, w = self.weights(k, cell_size)
                xs.append((gx + 0.5) * cell_size)
                ys.append((gy + 0.5) * cell_size)
                ws.append(w * n)
                if groups is not None:
                    gs.append(np.full(gx.size, g, dtype=np.int64))
        shared_x, shared_y = (
            np.concatenate(xs[1:] or [np.empty(0)]),
            np.concatenate(ys[1:] or [np.empty(0)]),
        )
        shared_lon, shared_lat = to_lonlat(shared_x, shared_y)
        return Pieces(
            np.concatenate([lon[whole], shared_lon]),
            np.concatenate([lat[whole], shared_lat]),
            np.concatenate(xs),
            np.concatenate(ys),
            np.concatenate(ws),
            None if groups is None else np.concatenate(gs),
        )


def bin_points_bng(
    x: ArrayLike, y: ArrayLike, grid: Grid, weights: ArrayLike | None = None
) -> NDArray[np.int64] | NDArray[np.float64]:
    """Count BNG points per grid cell.

    Parameters
    ----------
    x, y : array_like
        Eastings and northings in metres.
    grid : Grid
        The grid to count on.
    weights : array_like, optional
        Weight of each point (`Pieces.weight`); default 1 each.

    Returns
    -------
    ndarray of int64 (float64 with ``weights``), shape (ny, nx)
        Number of points per cell. Points off the grid (or with NaN coordinates) are
        not counted.
    """
    fx = (np.asarray(x, dtype=np.float64) - grid.x0) / grid.cell_size
    fy = (np.asarray(y, dtype=np.float64) - grid.y0) / grid.cell_size
    inside = (fx >= 0) & (fx < grid.nx) & (fy >= 0) & (fy < grid.ny)
    # Truncation equals floor for the non-negative values that remain.
    flat = fy[inside].astype(np.intp) * grid.nx + fx[inside].astype(np.intp)
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)[inside]
        return np.bincount(flat, weights=w, minlength=grid.nx * grid.ny).reshape(grid.shape)
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
    projected: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    weights: ArrayLike | None = None,
) -> NDArray[np.int64] | NDArray[np.float64]:
    """Count points per time window and grid cell in one pass (``projected``: the points'
    ``to_bng``, when the caller has it; ``weights``: as in `bin_points_bng`).

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
    ndarray of int64 (float64 with ``weights``), shape (T, ny, nx)
        Counts per window and cell, the input of `emerging_hotspots`.
    """
    x, y = to_bng(lons, lats) if projected is None else projected
    iy, ix, inside = grid.cell_index(x, y)
    w = np.asarray(window, dtype=np.int64)
    keep = inside & (w >= 0) & (w < n_windows)
    flat = (w[keep] * grid.ny + iy[keep]) * grid.nx + ix[keep]
    shape = (n_windows, grid.ny, grid.nx)
    if weights is not None:
        share = np.asarray(weights, dtype=np.float64)[keep]
        return np.bincount(flat, weights=share, minlength=math.prod(shape)).reshape(shape)
    counts = np.bincount(flat, minlength=math.prod(shape))
    return counts.astype(np.int64, copy=False).reshape(shape)


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


def resolve_grid(
    lons: NDArray[np.float64],
    lats: NDArray[np.float64],
    cell_size_m: float,
    mask: NDArray[np.bool_] | BaseGeometry | None,
    bounds: Sequence[float] | None,
    grid: Grid | None,
    margin_m: float = 0.0,
) -> Grid:
    """The grid to use: the one given, else one covering the bounds, the mask or the points."""
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
