"""Map builders: vendored assets only, layers from given results, small dissolved heat bands."""

from __future__ import annotations

import math
import re

import pytest
import shapely
from shapely.geometry import box, mapping

from geo import maps, significance
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
    crime = "Burglary, police.uk, Feb 2024 to Jan 2025"
    script = maps.map_script(
        maps.board_map(layers(report_points_url="/board/reports.geojson", crime_label=crime))
    )
    for name in (
        "Reports per ward",
        "Kernel density (heat)",
        "Hot and cold spots (Gi*, FDR)",
        "Town centres",
        crime,
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


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_no_two_layers_share_a_scheme_or_a_colour():
    schemes = [name for _, name, _ in maps.SCHEMES.values()]
    assert len(set(schemes)) == len(schemes)
    colours = [c for _, _, palette in maps.SCHEMES.values() for c in palette]
    assert len(set(colours)) == len(colours)


def test_counts_are_sequential_and_never_blue_and_hot_cold_is_diverging():
    kinds = {layer: kind for layer, (kind, _, _) in maps.SCHEMES.items()}
    assert kinds == {
        "wards": "sequential",
        "density": "sequential",
        "hotspots": "diverging",
        "emerging": "categorical",
    }
    for layer in ("wards", "density"):
        palette = maps.SCHEMES[layer][2]
        # Sequential: each step darker than the last.
        lightness = [sum(_hex(c)) for c in palette]
        assert lightness == sorted(lightness, reverse=True)
    # The ward shading must not be read as a cold spot. RdBu's cold classes are blue (green
    # above red); the ward purples keep red above green.
    for colour in maps.WARD_COLOURS:
        red, green, _ = _hex(colour)
        assert red > green
    for label in ("cold-90", "cold-95", "cold-99"):
        red, green, blue = _hex(maps.HOTSPOT_COLOURS[label])
        assert green > red and blue > red
    for label in ("hot-90", "hot-95", "hot-99"):
        red, _, blue = _hex(maps.HOTSPOT_COLOURS[label])
        assert red > blue


def test_a_count_legend_has_one_class_per_break_with_no_overlap():
    legend = maps.range_legend(
        "Reports per ward",
        "Reports per ward (count)",
        [4, 10, 25],
        maps.WARD_COLOURS,
        whole=True,
        empty="None",
    )
    assert [e.label for e in legend.entries] == ["None", "1–4", "5–10", "11–25"]
    assert legend.entries[0].colour == "#ffffff"
    assert [e.colour for e in legend.entries[1:]] == [
        maps.WARD_COLOURS[0],
        maps.WARD_COLOURS[2],
        maps.WARD_COLOURS[4],
    ]


def test_a_rate_legend_states_its_unit_and_keeps_decimals():
    legend = maps.range_legend("r", "Reports per 1,000 residents", [0.5, 2.25], maps.WARD_COLOURS)
    assert [e.label for e in legend.entries] == ["0.0–0.5", "0.5–2.2"]
    assert "per 1,000 residents" in legend.title


def test_every_layer_on_the_map_has_a_legend_with_its_name():
    crime = "Burglary, police.uk, Feb 2024 to Jan 2025"
    script = maps.map_script(
        maps.board_map(layers(report_points_url="/board/reports.geojson", crime_label=crime))
    )
    names = re.findall(r'"layer": "([^"]+)"', script)
    assert set(names) >= {
        "Reports per ward",
        "Kernel density (heat)",
        "Hot and cold spots (Gi*, FDR)",
        "Town centres",
        crime,
        "Reports (points)",
    }
    # Density has a scale in its unit, not a flat wash.
    assert "Kernel density, reports per km\\u00b2" in script


def test_wards_with_rates_get_a_rates_layer_with_the_town_centre_caveat():
    ward = {
        "type": "Feature",
        "geometry": mapping(box(-0.03, 51.44, -0.02, 51.45)),
        "properties": {"name": "Catford South", "count": 30, "rate": 2.5, "smoothed": 2.4},
    }
    script = maps.map_script(
        maps.board_map(layers(wards=[ward], rate_note="Residents are a poor denominator"))
    )
    assert '"Reports per 1,000 residents"' in script
    assert "Residents are a poor denominator" in script


def test_emerging_trend_colours_stand_apart_from_every_other_scheme():
    others = [c for layer, (_, _, p) in maps.SCHEMES.items() if layer != "emerging" for c in p]
    for colour in maps.EMERGING_COLOURS.values():
        nearest = min(math.dist(_hex(colour), _hex(other)) for other in others)
        assert nearest > 50, colour


def test_a_hot_spot_s_tooltip_says_what_it_means_in_words():
    script = maps.map_script(maps.board_map(layers()))
    assert "What it means" in script
    assert significance.plain_words("hot-99").split(":")[0].split(";")[0] in script


def test_outlines_simplified_once_are_the_ones_simplifying_each_time_gives():
    wards = layers().wards
    maps._simplify.cache_clear()
    first = maps._simplified(wards, 0.00005)
    again = maps._simplified(wards, 0.00005)
    assert maps._simplify.cache_info().hits == len(wards)
    for ward, a, b in zip(wards, first, again, strict=True):
        simple = shapely.geometry.shape(ward["geometry"]).simplify(0.00005, preserve_topology=True)
        expected = mapping(shapely.set_precision(simple, 1e-6))
        assert a == b == {**ward, "geometry": expected}
