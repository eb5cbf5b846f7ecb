"""Between longitude/latitude (WGS 84) and British National Grid (EPSG:27700): one cached
transformer each way, threaded for large arrays; the borough outline in both."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo import DATA_DIR

BOROUGH_FILE = DATA_DIR / "lewisham_borough_boundary.geojson"

# --------------------------------------------------------------------------- projection


@lru_cache(maxsize=1)
def transformer_to_bng() -> Transformer:
    """The one lon/lat to British National Grid transformer of this process."""
    # Building a Transformer costs tens of milliseconds; pyproj transformers are
    # thread-safe since 3.1, so one cached instance serves every caller.
    return Transformer.from_crs(4326, 27700, always_xy=True)


@lru_cache(maxsize=1)
def transformer_to_lonlat() -> Transformer:
    """The one British National Grid to lon/lat transformer of this process."""
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
    return _transform(transformer_to_bng(), lon, lat)


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
    return _transform(transformer_to_lonlat(), xa, ya)


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


def project_geometry(geometry_lonlat: BaseGeometry) -> BaseGeometry:
    """A lon/lat geometry in British National Grid."""

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = to_bng(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry_lonlat, project)
