"""Coarsening locations before they leave the partnership: exact points of sensitive reports
are never published, only the centre of the grid cell they fall in.

The grid is square cells on the British National Grid (EPSG:27700), so a cell is the same size
everywhere in the borough and aligns with the board's metric grids; the centre is converted back
to WGS84 for publishing.
"""

from __future__ import annotations

import functools
import math

from pyproj import Transformer

DEFAULT_CELL_METRES = 500.0


@functools.cache
def _transformers() -> tuple[Transformer, Transformer]:
    """WGS84 ⇄ British National Grid, built once (building reads PROJ's database)."""
    return (
        Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True),
        Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True),
    )


def coarse_point(
    lon: float, lat: float, cell_metres: float = DEFAULT_CELL_METRES
) -> tuple[float, float]:
    """The (lon, lat) of the centre of the ``cell_metres`` grid cell containing the point."""
    if cell_metres <= 0:
        raise ValueError("cell_metres must be positive")
    to_grid, to_wgs84 = _transformers()
    easting, northing = to_grid.transform(lon, lat)
    centre_e = (math.floor(easting / cell_metres) + 0.5) * cell_metres
    centre_n = (math.floor(northing / cell_metres) + 0.5) * cell_metres
    centre_lon, centre_lat = to_wgs84.transform(centre_e, centre_n)
    # Six decimal places (~0.1 m) are plenty for a cell centre and keep the output stable.
    return round(centre_lon, 6), round(centre_lat, 6)
