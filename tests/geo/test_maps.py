"""Map builders: vendored assets only, layers from given results, small dissolved heat bands."""

from __future__ import annotations

import re

import pytest
import shapely
from shapely.geometry import box, mapping

from geo import maps
from geo.wards import read_wards_geojson


def cell(i: int, j: int, density: float, label: str = "hot-99") -> dict:
    d = 0.0015
    return {
        "type": "Feature",
        "geometry": mapping(
            box(-0.03 + i * d, 51.44 + j * d, -0.03 + (i + 1) * d, 51.44 + (j + 1) * d)
        ),
        "properties": {"label": label, "count": 7, "z": 3.21, "q": 0.004, "density": density},
    }


def layers(**changes) -> maps.BoardLayers:
    wards = [
        {
            "type": "Feature",
            "geometry": mapping(w.geometry),
            "properties": {"name": w.name, "count": n},
        }
        for n, w in enumerate(read_wards_geojson())
    ]
    areas = [
        {
            "type": "Feature",
            "geometry": mapping(box(-0.025, 51.443, -0.017, 51.448)),
            "properties": {"slug": "catford-town-centre", "name": "Catford town centre"},
        },
        {
            "type": "Feature",
            "geometry": mapping(box(-0.016, 51.458, -0.010, 51.464)),
            "properties": {"slug": "blackheath-town-centre", "name": "Blackheath town centre"},
        },
    ]
    cells = [cell(i, j, float(i * j)) for i in range(10) for j in range(10)]
    values = {
        "hotspot_cells": cells[:3],
        "density_cells": cells,
        "wards": wards,
        "areas": areas,
        "crime_url": "/board/crime.geojson?period=12m",
    }
    return maps.BoardLayers(**(values | changes))


def test_the_map_loads_only_vendored_assets_and_no_inline_html():
    m = maps.board_map(layers())
    assert all(path.startswith("vendor/") for _, path in m.default_js + m.default_css)
    assert [name for name, _ in m.default_js] == [
        "leaflet",
        "jquery",
        "bootstrap",
        "awesome_markers",
    ]
    script = maps.map_script(m)
    hosts = set(re.findall(r"https?://([^/\"'\\]+)", script))
    assert hosts <= {"tile.openstreetmap.org", "www.openstreetmap.org"}
    assert "<script" not in script
    assert 'L.map(\n                "map_board"' in script or '"map_board"' in script


def test_the_map_has_the_board_layers_and_fetches_point_layers_from_urls():
    script = maps.map_script(maps.board_map(layers(report_points_url="/board/reports.geojson")))
    for name in (
        "Reports per ward",
        "Kernel density (heat)",
        "Hot and cold spots (Gi*, FDR)",
        "Town centres",
        "Recorded crime (police.uk)",
        "Reports (points)",
    ):
        assert f'"{name}"' in script
    assert 'fetch("/board/crime.geojson?period=12m"' in script
    # Labels of fetched points are text, never HTML.
    assert "textContent = String(feature.properties.label)" in script


def test_names_shown_in_tooltips_are_escaped():
    ward = {
        "type": "Feature",
        "geometry": mapping(box(-0.03, 51.44, -0.02, 51.45)),
        "properties": {"name": "<img src=x onerror=alert(1)>", "count": 3},
    }
    script = maps.map_script(maps.board_map(layers(wards=[ward])))
    assert "<img src=x" not in script
    assert r"\u0026lt;img src=x onerror=alert(1)\u0026gt;" in script  # &lt;img …&gt;


def test_without_a_run_there_are_no_hotspot_layers():
    script = maps.map_script(maps.board_map(layers(hotspot_cells=[], density_cells=[])))
    assert "Hot and cold spots" not in script
    assert "Kernel density" not in script
    assert "Reports per ward" in script


def test_catford_is_first_in_the_zoom_control_and_the_view_can_open_on_an_area():
    m = maps.board_map(layers(fit_bounds=(-0.025, 51.443, -0.017, 51.448)))
    control = next(c for c in m._children.values() if isinstance(c, maps.AreaZoomControl))
    assert control.areas[0]["slug"] == "catford-town-centre"
    assert control.areas[0]["name"] == "Catford"
    assert "[[51.443, -0.025], [51.448, -0.017]]" in maps.map_script(m)


def test_density_cells_dissolve_into_a_few_bands_that_keep_their_area():
    cells = [cell(i, j, float(i + j)) for i in range(20) for j in range(20)]
    bands = maps.merge_density_bands(cells)
    assert 1 <= len(bands) <= 5
    merged = shapely.union_all([shapely.geometry.shape(b["geometry"]) for b in bands])
    breaks = maps.class_breaks([c["properties"]["density"] for c in cells])
    expected = shapely.union_all(
        [
            shapely.geometry.shape(c["geometry"])
            for c in cells
            if c["properties"]["density"] > breaks[0]
        ]
    )
    assert abs(merged.area - expected.area) < 1e-9
    assert all("reports per km²" in b["properties"]["band"] for b in bands)


def test_class_breaks_are_quantiles_of_positive_values():
    assert maps.class_breaks([0, 0, 1, 2, 3, 4, 5], classes=5) == pytest.approx(
        [1.8, 2.6, 3.4, 4.2, 5.0]
    )
    assert maps.class_breaks([0, 0]) == []
    assert maps.class_breaks([7, 7, 7]) == [7.0]
