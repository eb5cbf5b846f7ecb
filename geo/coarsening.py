"""Coarsening locations before they leave the partnership: exact points of sensitive reports
are never published, only the centre of the grid cell they fall in.

The grid is square cells on the British National Grid (EPSG:27700), so a cell is the same size
everywhere in the borough and aligns with the board's metric grids; the centre is converted back
to WGS84 for publishing.
"""

from __future__ import annotations

import math

from geo.projection import transformer_to_bng, transformer_to_lonlat

DEFAULT_CELL_METRES = 500.0


def coarse_point(
    lon: float, lat: float, cell_metres: float = DEFAULT_CELL_METRES
) -> tuple[float, float]:
    """The (lon, lat) of the centre of the ``cell_metres`` grid cell containing the point."""
    if cell_metres <= 0:
        raise ValueError("cell_metres must be positive")
    to_grid, to_wgs84 = transformer_to_bng(), transformer_to_lonlat()
    easting, northing = to_grid.transform(lon, lat)
    centre_e = (math.floor(easting / cell_metres) + 0.5) * cell_metres
    centre_n = (math.floor(northing / cell_metres) + 0.5) * cell_metres
    centre_lon, centre_lat = to_wgs84.transform(centre_e, centre_n)
    # Six decimal places (~0.1 m) are plenty for a cell centre and keep the output stable.
    return round(centre_lon, 6), round(centre_lat, 6)
