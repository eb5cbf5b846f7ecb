"""Folium maps for the safety board, drawn from stored results.

Nothing here computes a statistic: hotspot labels, z-scores, densities and counts arrive
already computed (by the worker, or as plain counts); this module only turns them into map
layers. Two constraints shape it:

- The board works with no internet and under a Content-Security-Policy that allows scripts
  and styles only from the site itself. Folium loads Leaflet, jQuery, Bootstrap,
  awesome-markers and Font Awesome from CDNs by default; `VENDOR_JS` and `VENDOR_CSS` point it
  at the copies in ``safer_streets/static/vendor/`` instead, and `map_script` returns the
  JavaScript folium generates so that the page can load it as a file rather than inline.
- The page stays small whatever the number of reports: layers carry aggregates (cells,
  wards, merged density bands); point layers are fetched from a URL, and only when the caller
  decided there are few enough points to draw.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import numpy as np
import shapely
from folium.template import Template
from shapely.geometry import mapping, shape

__all__ = [
    "DENSITY_COLOURS",
    "EMERGING_COLOURS",
    "HOTSPOT_COLOURS",
    "HOTSPOT_LABELS",
    "MAP_ID",
    "VENDOR_CSS",
    "VENDOR_JS",
    "AreaZoomControl",
    "BoardLayers",
    "RemotePoints",
    "asset_urls",
    "board_map",
    "class_breaks",
    "map_script",
    "merge_density_bands",
]

# Folium's own names for its default assets, pointed at the vendored copies (paths relative
# to the static folder). Two of folium's defaults are left out: the Bootstrap 3 glyphicons
# stylesheet and the awesome-markers rotation CSS, which only matter for glyphicon-prefixed
# or rotated markers; these maps draw no markers of either kind.
VENDOR_JS: tuple[tuple[str, str], ...] = (
    ("leaflet", "vendor/leaflet/leaflet.js"),
    ("jquery", "vendor/jquery/jquery.min.js"),
    ("bootstrap", "vendor/bootstrap/bootstrap.bundle.min.js"),
    ("awesome_markers", "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js"),
)
VENDOR_CSS: tuple[tuple[str, str], ...] = (
    ("leaflet_css", "vendor/leaflet/leaflet.css"),
    ("bootstrap_css", "vendor/bootstrap/bootstrap.min.css"),
    ("awesome_markers_font_css", "vendor/fontawesome-free/css/all.min.css"),
    ("awesome_markers_css", "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css"),
)

TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
TILE_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
MAP_ID = "board"
"""Folium names the map ``map_board``: the page's container element has that id."""

LEWISHAM_CENTRE = (51.445, -0.02)

HOTSPOT_LABELS: dict[str, str] = {
    "hot-99": "Hot spot, 99 % confidence",
    "hot-95": "Hot spot, 95 % confidence",
    "hot-90": "Hot spot, 90 % confidence",
    "cold-90": "Cold spot, 90 % confidence",
    "cold-95": "Cold spot, 95 % confidence",
    "cold-99": "Cold spot, 99 % confidence",
}
# ColorBrewer RdBu (diverging, colour-blind safe), the usual hot/cold palette.
HOTSPOT_COLOURS: dict[str, str] = {
    "hot-99": "#b2182b",
    "hot-95": "#ef8a62",
    "hot-90": "#fddbc7",
    "cold-90": "#d1e5f0",
    "cold-95": "#67a9cf",
    "cold-99": "#2166ac",
}
EMERGING_COLOURS: dict[str, str] = {
    "new": "#7b3294",
    "intensifying": "#c51b7d",
    "persistent": "#e08214",
    "diminishing": "#4d9221",
}
# ColorBrewer YlOrRd, five classes.
DENSITY_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
WARD_COLOURS = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
CRIME_COLOUR = "#1b1b1b"
REPORT_COLOUR = "#0b5c46"


@dataclass(frozen=True)
class BoardLayers:
    """What the board map shows, already computed and already filtered for the viewer.

    Attributes
    ----------
    hotspot_cells : list of dict
        GeoJSON features of significant cells (polygon; properties ``label``, ``count``,
        ``z``, ``q``); ``count`` may be None where it is withheld.
    density_cells : list of dict
        GeoJSON features of cells with a ``density`` property (reports per km²).
    emerging_cells : list of dict
        GeoJSON features of cells with an ``emerging`` category.
    wards : list of dict
        GeoJSON features with ``name`` and ``count`` (None when suppressed) properties.
    areas : list of dict
        Named areas of interest with ``slug`` and ``name`` properties.
    crime_url, report_points_url : str or None
        Where to fetch point layers (GeoJSON); None leaves the layer out.
    fit_bounds : (min_lon, min_lat, max_lon, max_lat) or None
        The view to open on; default the extent of the wards.
    density_unit : str
        Shown in the density tooltips.
    """

    hotspot_cells: Sequence[Mapping[str, Any]] = ()
    density_cells: Sequence[Mapping[str, Any]] = ()
    emerging_cells: Sequence[Mapping[str, Any]] = ()
    wards: Sequence[Mapping[str, Any]] = ()
    areas: Sequence[Mapping[str, Any]] = ()
    crime_url: str | None = None
    report_points_url: str | None = None
    fit_bounds: tuple[float, float, float, float] | None = None
    density_unit: str = "reports per km²"


def class_breaks(values: Iterable[float], classes: int = 5) -> list[float]:
    """Upper bounds of ``classes`` display classes of positive values (quantile breaks).

    Quantiles keep every colour in use however skewed the values are; repeated breaks (many
    equal values) are dropped, so fewer classes may come back.
    """
    positive = np.asarray([v for v in values if v is not None and v > 0], dtype=np.float64)
    if positive.size == 0:
        return []
    qs = np.quantile(positive, np.linspace(0, 1, classes + 1)[1:])
    return sorted({float(q) for q in qs})


def _class_of(value: float, breaks: Sequence[float]) -> int:
    return min(int(np.searchsorted(np.asarray(breaks), value, side="left")), len(breaks) - 1)


def _spread(breaks: Sequence[float], palette: Sequence[str]) -> list[str]:
    """Colours for ``len(breaks)`` classes, spread over the palette."""
    if len(breaks) <= 1:
        return [palette[-1]] * len(breaks)
    step = (len(palette) - 1) / (len(breaks) - 1)
    return [palette[round(i * step)] for i in range(len(breaks))]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"


def merge_density_bands(
    cells: Sequence[Mapping[str, Any]], *, classes: int = 5, unit: str = "reports per km²"
) -> list[dict[str, Any]]:
    """Dissolve density cells into one multipolygon per display class.

    Grid cells share exact corner coordinates, so each class is a clean polygon coverage
    and a coverage union dissolves it quickly; a borough of several thousand cells becomes a
    handful of features, which keeps the page small.
    """
    if not cells:
        return []
    values = np.array([float(c["properties"]["density"]) for c in cells])
    breaks = class_breaks(values.tolist(), classes)
    if not breaks:
        return []
    colours = _spread(breaks, DENSITY_COLOURS)
    polygons = shapely.polygons([c["geometry"]["coordinates"][0] for c in cells])
    # The lowest class is most of the borough: leaving it clear keeps the streets readable.
    lowest = breaks[0] if len(breaks) > 1 else 0.0
    band_of = np.searchsorted(np.asarray(breaks), values, side="left").clip(0, len(breaks) - 1)
    bands = []
    for index in range(len(breaks)):
        members = polygons[(band_of == index) & (values > lowest)]
        if members.size == 0:
            continue
        lower = breaks[index - 1] if index > 0 else 0.0
        merged = shapely.coverage_union_all(members)
        bands.append(
            {
                "type": "Feature",
                "geometry": mapping(shapely.set_precision(merged, 1e-6)),
                "properties": {
                    "band": _text(f"{_fmt(lower)}–{_fmt(breaks[index])} {unit}"),
                    "style": {**_fill(colours[index], 0.6), "weight": 0},
                },
            }
        )
    return bands


def _text(value: Any) -> str:
    # Folium's GeoJsonTooltip writes property values into the tooltip as HTML: escape them.
    return html.escape(str(value))


def _fill(colour: str, opacity: float) -> dict[str, Any]:
    # Each feature carries its own style: folium then draws it without a per-feature lookup.
    return {"fillColor": colour, "color": colour, "weight": 0.5, "fillOpacity": opacity}


def _simplified(features: Sequence[Mapping[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    out = []
    for feature in features:
        geometry = shape(feature["geometry"]).simplify(tolerance, preserve_topology=True)
        geometry = shapely.set_precision(geometry, 1e-6)
        out.append({**feature, "geometry": mapping(geometry)})
    return out


class RemotePoints(folium.map.Layer):
    """A point layer fetched from a URL when it is first shown, drawn as circle markers.

    Each feature needs a ``label`` property (shown as a tooltip, as text, never as HTML) and
    may have a ``count`` that sizes its marker. When the data has arrived the map container
    gets a ``data-loaded-<key>`` attribute, which tests and benchmarks wait for.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson(null, {
            pointToLayer: function (feature, latlng) {
                var count = feature.properties.count || 1;
                return L.circleMarker(latlng, {
                    radius: Math.min(14, 3 + 1.5 * Math.sqrt(count)),
                    color: {{ this.colour|tojson }}, weight: 1,
                    fillColor: {{ this.colour|tojson }}, fillOpacity: 0.55
                });
            },
            onEachFeature: function (feature, layer) {
                var tip = document.createElement("span");
                tip.textContent = String(feature.properties.label);
                layer.bindTooltip(tip);
            }
        });
        // Fetched the first time the layer is shown, so a hidden layer costs nothing.
        {{ this.get_name() }}.once("add", function () {
            fetch({{ this.url|tojson }}, {credentials: "same-origin"})
                .then(function (response) { return response.json(); })
                .then(function (data) {
                    {{ this.get_name() }}.addData(data);
                    {{ this._parent.get_name() }}.getContainer().setAttribute(
                        {{ ("data-loaded-" ~ this.key)|tojson }}, data.features.length);
                });
        });
        {% endmacro %}
        """
    )

    def __init__(self, url: str, *, name: str, key: str, colour: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RemotePoints"
        self.url = url
        self.key = key
        self.colour = colour


class AreaZoomControl(folium.MacroElement):
    """A map control with one button per named area that zooms the map to it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var areas = {{ this.areas|tojson }};
            var control = L.control({position: "topleft"});
            control.onAdd = function () {
                var box = L.DomUtil.create("div", "leaflet-bar board-areas");
                var title = L.DomUtil.create("p", "board-areas-title", box);
                title.textContent = "Zoom to";
                areas.forEach(function (area) {
                    var button = L.DomUtil.create("button", "board-area", box);
                    button.type = "button";
                    button.textContent = area.name;
                    button.setAttribute("data-area", area.slug);
                    L.DomEvent.on(button, "click", function (event) {
                        L.DomEvent.stop(event);
                        map.fitBounds([[area.bounds[1], area.bounds[0]],
                                       [area.bounds[3], area.bounds[2]]]);
                    });
                });
                L.DomEvent.disableClickPropagation(box);
                return box;
            };
            control.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, areas: Sequence[Mapping[str, Any]], first: str | None = None) -> None:
        super().__init__()
        self._name = "AreaZoomControl"
        entries = []
        for feature in areas:
            min_lon, min_lat, max_lon, max_lat = shape(feature["geometry"]).bounds
            entries.append(
                {
                    "slug": feature["properties"]["slug"],
                    "name": feature["properties"]["name"].removesuffix(" town centre"),
                    "bounds": [round(v, 6) for v in (min_lon, min_lat, max_lon, max_lat)],
                }
            )
        entries.sort(key=lambda e: (e["slug"] != first, e["name"]))
        self.areas = entries


def _bounds_of(features: Sequence[Mapping[str, Any]]) -> tuple[float, float, float, float]:
    return tuple(shapely.union_all([shape(f["geometry"]) for f in features]).bounds)  # type: ignore[return-value]


def _ward_layer(wards: Sequence[Mapping[str, Any]]) -> folium.GeoJson:
    breaks = class_breaks(f["properties"]["count"] for f in wards)
    colours = _spread(breaks, WARD_COLOURS)
    features = []
    for feature in _simplified(wards, 0.00005):
        count = feature["properties"]["count"]
        shown = feature["properties"].get("shown") or (
            "withheld" if count is None else f"{count:,}"
        )
        colour = "#ffffff" if not count or not breaks else colours[_class_of(count, breaks)]
        style = {"fillColor": colour, "color": "#505a5f", "weight": 1, "fillOpacity": 0.55}
        properties = {
            "name": _text(feature["properties"]["name"]),
            "reports": _text(shown),
            "style": style,
        }
        features.append({**feature, "properties": properties})
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Reports per ward",
        tooltip=folium.GeoJsonTooltip(["name", "reports"], aliases=["Ward", "Reports"]),
        show=True,
    )


def _hotspot_layer(cells: Sequence[Mapping[str, Any]]) -> folium.GeoJson:
    features = []
    for cell in cells:
        props = cell["properties"]
        count = props.get("count")
        features.append(
            {
                "type": "Feature",
                "geometry": cell["geometry"],
                "properties": {
                    "label": _text(props["label"]),
                    "meaning": _text(HOTSPOT_LABELS.get(props["label"], props["label"])),
                    "reports": "withheld" if count is None else f"{count:,}",
                    "z": f"{props['z']:.2f}",
                    "q": f"{props['q']:.3g}",
                    "style": _fill(HOTSPOT_COLOURS[props["label"]], 0.75),
                },
            }
        )
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Hot and cold spots (Gi*, FDR)",
        tooltip=folium.GeoJsonTooltip(
            ["meaning", "reports", "z", "q"],
            aliases=["Cell", "Reports in cell", "Gi* z", "FDR-adjusted p"],
        ),
    )


def _emerging_layer(cells: Sequence[Mapping[str, Any]]) -> folium.GeoJson:
    features = [
        {
            "type": "Feature",
            "geometry": cell["geometry"],
            "properties": {
                "emerging": _text(cell["properties"]["emerging"]),
                "style": _fill(EMERGING_COLOURS[cell["properties"]["emerging"]], 0.7),
            },
        }
        for cell in cells
    ]
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Emerging hot spots",
        tooltip=folium.GeoJsonTooltip(["emerging"], aliases=["Trend"]),
        show=False,
    )


def _density_layer(cells: Sequence[Mapping[str, Any]], unit: str) -> folium.GeoJson | None:
    bands = merge_density_bands(cells, unit=unit)
    if not bands:
        return None
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": bands},
        name="Kernel density (heat)",
        tooltip=folium.GeoJsonTooltip(["band"], aliases=["Density"]),
        show=False,
    )


def _area_layer(areas: Sequence[Mapping[str, Any]]) -> folium.GeoJson:
    style = {"fill": False, "color": "#1d4f91", "weight": 2, "dashArray": "6 4"}
    features = [
        {**f, "properties": {"name": _text(f["properties"]["name"]), "style": style}}
        for f in _simplified(areas, 0.00002)
    ]
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Town centres",
        tooltip=folium.GeoJsonTooltip(["name"], labels=False),
    )


def board_map(
    layers: BoardLayers, *, focus_area: str | None = None, tiles: str = TILE_URL
) -> folium.Map:
    """The board's map: hotspots, density, emerging trends, wards, town centres, points.

    Parameters
    ----------
    layers : BoardLayers
        Stored results and aggregates, already filtered for the viewer.
    focus_area : str, optional
        Slug of an area of interest to open on (its button is listed first); default
        ``catford-town-centre`` is listed first and the map opens on ``fit_bounds``.
    tiles : str, optional
        Tile URL template (``{z}/{x}/{y}``); default OpenStreetMap's. The page's
        Content-Security-Policy must allow images from its origin.

    Returns
    -------
    folium.Map
        With the vendored assets as its defaults and a layers control.
    """
    m = folium.Map(
        location=LEWISHAM_CENTRE,
        zoom_start=13,
        tiles=None,
        control_scale=True,
        # Quarter zoom steps let the borough fill the map instead of a third of it.
        zoomSnap=0.25,
    )
    m._id = MAP_ID
    m.default_js = list(VENDOR_JS)
    m.default_css = list(VENDOR_CSS)
    folium.TileLayer(tiles, attr=TILE_ATTRIBUTION, name="OpenStreetMap", max_zoom=19).add_to(m)

    if layers.wards:
        _ward_layer(layers.wards).add_to(m)
    density = _density_layer(layers.density_cells, layers.density_unit)
    if density is not None:
        density.add_to(m)
    if layers.emerging_cells:
        _emerging_layer(layers.emerging_cells).add_to(m)
    if layers.hotspot_cells:
        _hotspot_layer(layers.hotspot_cells).add_to(m)
    if layers.areas:
        _area_layer(layers.areas).add_to(m)
    if layers.crime_url:
        RemotePoints(
            layers.crime_url,
            name="Recorded crime (police.uk)",
            key="crime",
            colour=CRIME_COLOUR,
            show=False,
        ).add_to(m)
    if layers.report_points_url:
        RemotePoints(
            layers.report_points_url,
            name="Reports (points)",
            key="reports",
            colour=REPORT_COLOUR,
            show=False,
        ).add_to(m)
    if layers.areas:
        AreaZoomControl(layers.areas, first=focus_area or "catford-town-centre").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)

    bounds = layers.fit_bounds
    if bounds is None and layers.wards:
        bounds = _bounds_of(layers.wards)
    if bounds is not None:
        min_lon, min_lat, max_lon, max_lat = bounds
        m.fit_bounds([[min_lat, min_lon], [max_lat, max_lon]])
    return m


def map_script(m: folium.Map) -> str:
    """The JavaScript folium generates for a map, to be served as a file (CSP: 'self')."""
    root = m.get_root()
    root.render()
    return root.script.render()


def asset_urls(static_url: Callable[[str], str]) -> tuple[list[str], list[str]]:
    """URLs of the vendored scripts and stylesheets, in the order they must load."""
    return (
        [static_url(path) for _, path in VENDOR_JS],
        [static_url(path) for _, path in VENDOR_CSS],
    )
