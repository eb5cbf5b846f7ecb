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

import functools
import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import numpy as np
import shapely
from folium.template import Template
from shapely.geometry import mapping, shape

from geo.significance import plain_words

__all__ = [
    "DENSITY_COLOURS",
    "EMERGING_COLOURS",
    "HOTSPOT_COLOURS",
    "HOTSPOT_LABELS",
    "MAP_ID",
    "SCHEMES",
    "VENDOR_CSS",
    "VENDOR_JS",
    "WARD_COLOURS",
    "AreaZoomControl",
    "BoardLayers",
    "Legend",
    "LegendEntry",
    "MapLegends",
    "RemotePoints",
    "asset_urls",
    "board_map",
    "class_breaks",
    "emerging_legend",
    "hotspot_legend",
    "map_script",
    "merge_density_bands",
    "point_legend",
    "range_legend",
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
WARD_LAYER = "Reports per ward"
RATE_LAYER = "Reports per 1,000 residents"
DENSITY_LAYER = "Kernel density (heat)"
EMERGING_LAYER = "Emerging hot spots"
HOTSPOT_LAYER = "Hot and cold spots (Gi*, FDR)"
AREA_LAYER = "Town centres"
REPORT_LAYER = "Reports (points)"
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
# ColorBrewer Dark2 (qualitative): none of these hues is a step of the sequential or
# diverging schemes below, so a trend cell is never read as a count or a hot spot.
EMERGING_COLOURS: dict[str, str] = {
    "new": "#1b9e77",
    "intensifying": "#e7298a",
    "persistent": "#a6761d",
    "diminishing": "#666666",
}
# ColorBrewer YlOrBr, five classes: a sequential scale apart from the reds of hot spots.
DENSITY_COLOURS = ("#ffffd4", "#fed98e", "#fe9929", "#d95f0e", "#993404")
# ColorBrewer Purples, five classes, for reports (and rates) per ward. Not blues: blue on this
# map means a cold spot.
WARD_COLOURS = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")
CRIME_COLOUR = "#1b1b1b"
REPORT_COLOUR = "#0b5c46"
AREA_COLOUR = "#1d4f91"

SCHEMES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "wards": ("sequential", "ColorBrewer Purples", WARD_COLOURS),
    "density": ("sequential", "ColorBrewer YlOrBr", DENSITY_COLOURS),
    "hotspots": ("diverging", "ColorBrewer RdBu", tuple(HOTSPOT_COLOURS.values())),
    "emerging": ("categorical", "ColorBrewer Dark2", tuple(EMERGING_COLOURS.values())),
}
"""Each shaded layer's kind of scheme, its name and its colours, one scheme per layer."""


@dataclass(frozen=True)
class LegendEntry:
    """One swatch of a legend: its colour, its words, and how it is drawn."""

    colour: str
    label: str
    shape: str = "box"  # "box" (fill), "line" (dashed outline) or "dot" (point marker)


@dataclass(frozen=True)
class Legend:
    """What one map layer's colours mean, with the unit its numbers are in."""

    layer: str
    title: str
    entries: tuple[LegendEntry, ...]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The legend as plain data for the map's script."""
        return {
            "layer": self.layer,
            "title": self.title,
            "note": self.note,
            "entries": [
                {"colour": e.colour, "label": e.label, "shape": e.shape} for e in self.entries
            ],
        }


def range_legend(
    layer: str,
    title: str,
    breaks: Sequence[float],
    palette: Sequence[str],
    *,
    whole: bool = False,
    empty: str | None = None,
    note: str = "",
) -> Legend:
    """A legend of the classes `class_breaks` made: one entry per class, "low–high".

    With ``whole`` (counts) each class starts one above the previous class's top, so no
    value is in two classes; ``empty`` names the unshaded class (e.g. "No reports").
    """
    colours = _spread(breaks, palette)
    entries = [LegendEntry("#ffffff", empty)] if empty else []
    lower = 0.0
    for index, (upper, colour) in enumerate(zip(breaks, colours, strict=True)):
        if whole:
            low = int(np.floor(lower)) + 1 if index else 1
            high = int(np.floor(upper))
            text = f"{low:,}" if low >= high else f"{low:,}–{high:,}"
        else:
            text = f"{_fmt(lower)}–{_fmt(upper)}"
        entries.append(LegendEntry(colour, text))
        lower = upper
    return Legend(layer, title, tuple(entries), note)


def hotspot_legend() -> Legend:
    """Hot and cold spots: the diverging scheme, hot at the top."""
    entries = tuple(LegendEntry(HOTSPOT_COLOURS[k], v) for k, v in HOTSPOT_LABELS.items())
    return Legend(
        HOTSPOT_LAYER,
        "Hot and cold spots (Gi*, FDR)",
        entries,
        "Unshaded cells are not significant.",
    )


def emerging_legend() -> Legend:
    """Emerging hot spots: one colour per trend."""
    entries = tuple(LegendEntry(c, k.capitalize()) for k, c in EMERGING_COLOURS.items())
    return Legend(EMERGING_LAYER, "Emerging hot spots: trend over the period", entries)


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
        Shown in the density tooltips and legend.
    crime_label : str
        What the recorded crime layer holds, e.g. "Burglary, police.uk, Feb 2024 to Jan 2025".
    rate_note : str
        Shown in the rates legend: why residents are a poor denominator in town centres.

    Ward features may also carry ``rate`` (reports per 1,000 residents) and ``smoothed``;
    with rates present the map offers a second ward layer shaded by rate.
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
    crime_label: str = "Recorded crime, police.uk"
    rate_note: str = ""


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
    return [
        {**feature, "geometry": _simplify(json.dumps(feature["geometry"]), tolerance)}
        for feature in features
    ]


@functools.lru_cache(maxsize=256)
def _simplify(geometry: str, tolerance: float) -> dict[str, Any]:
    """A GeoJSON geometry simplified for the map. Wards and town centres are the same on every
    map drawn, and simplifying them took a good part of drawing one: each is simplified once.
    Callers must not change what this returns (it is shared)."""
    simple = shape(json.loads(geometry)).simplify(tolerance, preserve_topology=True)
    return mapping(shapely.set_precision(simple, 1e-6))


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


class MapLegends(folium.MacroElement):
    """One legend per layer in a collapsible box, each shown while its layer is on the map.

    The box goes into the page element with id ``host_id`` when there is one, beside the
    map; otherwise it is a control on the map.

    On a narrow map (a phone) the legend box and the layers control start folded, so that
    they do not cover the map; each unfolds with a tap.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var narrow = map.getContainer().clientWidth < 600;
            var items = [{% for layer, legend in this.items %}
                {layer: {{ layer.get_name() }}, legend: {{ legend.as_dict()|tojson }}},{% endfor %}
            ];
            var host = document.getElementById({{ this.host_id|tojson }});
            function build() {
                var box = L.DomUtil.create("details", "board-legends");
                box.open = Boolean(host) || !narrow;
                L.DomUtil.create("summary", "", box).textContent = "Legend";
                items.forEach(function (item) {
                    var section = L.DomUtil.create("section", "board-legend", box);
                    section.setAttribute("data-layer", item.legend.layer);
                    L.DomUtil.create("p", "board-legend-title", section).textContent =
                        item.legend.title;
                    var list = L.DomUtil.create("ul", "board-legend-list", section);
                    item.legend.entries.forEach(function (entry) {
                        var row = L.DomUtil.create("li", "", list);
                        var swatch = L.DomUtil.create(
                            "span", "board-swatch board-swatch-" + entry.shape, row);
                        // CSSOM, not a style attribute: allowed by the page's CSP.
                        if (entry.shape === "line") {
                            swatch.style.borderColor = entry.colour;
                        } else {
                            swatch.style.backgroundColor = entry.colour;
                        }
                        row.appendChild(document.createTextNode(entry.label));
                    });
                    if (item.legend.note) {
                        L.DomUtil.create("p", "board-legend-note", section).textContent =
                            item.legend.note;
                    }
                    item.section = section;
                });
                return box;
            }
            // Beside the map where the page has room for it (the board page), else on it
            // (the printed pack).
            if (host) {
                host.appendChild(build());
            } else {
                var control = L.control({position: "bottomright"});
                control.onAdd = function () {
                    var box = build();
                    L.DomEvent.disableClickPropagation(box);
                    L.DomEvent.disableScrollPropagation(box);
                    return box;
                };
                control.addTo(map);
            }
            function update() {
                items.forEach(function (item) { item.section.hidden = !map.hasLayer(item.layer); });
            }
            // Counts and rates shade the same wards: showing one hides the other.
            var exclusive = [{% for layer in this.exclusive %}{{ layer.get_name() }},{% endfor %}];
            // After the layers control has finished its click: it adds every ticked layer, so
            // removing the other one during the click would only see it added back.
            map.on("overlayadd", function (event) {
                if (exclusive.indexOf(event.layer) < 0) { return; }
                setTimeout(function () {
                    exclusive.forEach(function (layer) {
                        if (layer !== event.layer && map.hasLayer(layer)) {
                            map.removeLayer(layer);
                        }
                    });
                }, 0);
            });
            map.on("overlayadd overlayremove", update);
            update();
            {% if this.layers_control %}
            var layers = {{ this.layers_control.get_name() }};
            if (narrow) {
                layers.collapse();
                var toggle = layers.getContainer().querySelector(".leaflet-control-layers-toggle");
                L.DomEvent.on(toggle, "click", function (event) {
                    L.DomEvent.preventDefault(event);
                    layers.expand();
                });
                map.on("click", function () { layers.collapse(); });
            }
            {% endif %}
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        items: Sequence[tuple[folium.map.Layer, Legend]],
        layers_control: folium.LayerControl | None = None,
        host_id: str = "map-legends",
        exclusive: Sequence[folium.map.Layer] = (),
    ) -> None:
        super().__init__()
        self._name = "MapLegends"
        self.host_id = host_id
        self.exclusive = list(exclusive)
        self.items = list(items)
        self.layers_control = layers_control


def point_legend(layer: str, title: str, colour: str, label: str) -> Legend:
    """A point layer's legend: one marker, sized by the count at its place."""
    return Legend(layer, title, (LegendEntry(colour, label, "dot"),), "Larger circles: more.")


def _bounds_of(features: Sequence[Mapping[str, Any]]) -> tuple[float, float, float, float]:
    return tuple(shapely.union_all([shape(f["geometry"]) for f in features]).bounds)  # type: ignore[return-value]


def _ward_layer(
    wards: Sequence[Mapping[str, Any]], *, rates: bool = False, note: str = ""
) -> tuple[folium.GeoJson, Legend]:
    key = "rate" if rates else "count"
    breaks = class_breaks(f["properties"].get(key) for f in wards)
    colours = _spread(breaks, WARD_COLOURS)
    features = []
    for feature in _simplified(wards, 0.00005):
        props = feature["properties"]
        value = props.get(key)
        count = props["count"]
        shown = props.get("shown") or ("withheld" if count is None else f"{count:,}")
        colour = "#ffffff" if not value or not breaks else colours[_class_of(value, breaks)]
        style = {"fillColor": colour, "color": "#505a5f", "weight": 1, "fillOpacity": 0.6}
        properties = {"name": _text(props["name"]), "reports": _text(shown), "style": style}
        if rates:
            properties["rate"] = "—" if value is None else f"{value:.1f}"
            smoothed = props.get("smoothed")
            properties["smoothed"] = "—" if smoothed is None else f"{smoothed:.1f}"
        features.append({**feature, "properties": properties})
    if rates:
        fields, aliases = (
            ["name", "reports", "rate", "smoothed"],
            ["Ward", "Reports", "Per 1,000 residents", "Smoothed (empirical Bayes)"],
        )
        legend = range_legend(
            RATE_LAYER,
            "Reports per 1,000 residents, by ward",
            breaks,
            WARD_COLOURS,
            empty="None or not known",
            note=note,
        )
    else:
        fields, aliases = ["name", "reports"], ["Ward", "Reports"]
        legend = range_legend(
            WARD_LAYER,
            "Reports per ward (count)",
            breaks,
            WARD_COLOURS,
            whole=True,
            empty="None (or withheld)",
        )
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=legend.layer,
        tooltip=folium.GeoJsonTooltip(fields, aliases=aliases),
        show=not rates,
    )
    return layer, legend


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
                    "meaning": _text(plain_words(props["label"])),
                    "reports": "withheld" if count is None else f"{count:,}",
                    "z": f"{props['z']:.2f}",
                    "q": f"{props['q']:.3g}",
                    "style": _fill(HOTSPOT_COLOURS[props["label"]], 0.75),
                },
            }
        )
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=HOTSPOT_LAYER,
        tooltip=folium.GeoJsonTooltip(
            ["meaning", "reports", "z", "q"],
            aliases=["What it means", "Reports in cell", "Gi* z", "FDR-adjusted p"],
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
        name=EMERGING_LAYER,
        tooltip=folium.GeoJsonTooltip(["emerging"], aliases=["Trend"]),
        show=False,
    )


def _density_layer(
    cells: Sequence[Mapping[str, Any]], unit: str
) -> tuple[folium.GeoJson, Legend] | None:
    bands = merge_density_bands(cells, unit=unit)
    if not bands:
        return None
    breaks = class_breaks(float(c["properties"]["density"]) for c in cells)
    legend = range_legend(
        DENSITY_LAYER,
        f"Kernel density, {unit}",
        breaks,
        DENSITY_COLOURS,
        note="The lowest class is left clear.",
    )
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": bands},
        name=DENSITY_LAYER,
        tooltip=folium.GeoJsonTooltip(["band"], aliases=["Density"]),
        show=False,
    )
    return layer, legend


def _area_layer(areas: Sequence[Mapping[str, Any]]) -> folium.GeoJson:
    style = {"fill": False, "color": AREA_COLOUR, "weight": 2, "dashArray": "6 4"}
    features = [
        {**f, "properties": {"name": _text(f["properties"]["name"]), "style": style}}
        for f in _simplified(areas, 0.00002)
    ]
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=AREA_LAYER,
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

    legends: list[tuple[folium.map.Layer, Legend]] = []
    if layers.wards:
        legends.append(_ward_layer(layers.wards))
        if any(f["properties"].get("rate") is not None for f in layers.wards):
            legends.append(_ward_layer(layers.wards, rates=True, note=layers.rate_note))
    density = _density_layer(layers.density_cells, layers.density_unit)
    if density is not None:
        legends.append(density)
    if layers.emerging_cells:
        legends.append((_emerging_layer(layers.emerging_cells), emerging_legend()))
    if layers.hotspot_cells:
        legends.append((_hotspot_layer(layers.hotspot_cells), hotspot_legend()))
    if layers.areas:
        area_legend = Legend(
            AREA_LAYER, AREA_LAYER, (LegendEntry(AREA_COLOUR, "Town centre boundary", "line"),)
        )
        legends.append((_area_layer(layers.areas), area_legend))
    if layers.crime_url:
        # Leaflet's layers control writes names as HTML; this one holds imported crime types.
        crime = RemotePoints(
            layers.crime_url,
            name=_text(layers.crime_label),
            key="crime",
            colour=CRIME_COLOUR,
            show=False,
        )
        legends.append(
            (
                crime,
                point_legend(
                    layers.crime_label,
                    layers.crime_label,
                    CRIME_COLOUR,
                    "Crimes at a police map point",
                ),
            )
        )
    if layers.report_points_url:
        points = RemotePoints(
            layers.report_points_url,
            name=REPORT_LAYER,
            key="reports",
            colour=REPORT_COLOUR,
            show=False,
        )
        legends.append(
            (points, point_legend(REPORT_LAYER, REPORT_LAYER, REPORT_COLOUR, "Reports at a place"))
        )
    for layer, _ in legends:
        layer.add_to(m)
    if layers.areas:
        AreaZoomControl(layers.areas, first=focus_area or "catford-town-centre").add_to(m)
    control = folium.LayerControl(collapsed=False).add_to(m)
    wards = [layer for layer, legend in legends if legend.layer in (WARD_LAYER, RATE_LAYER)]
    MapLegends(legends, control, exclusive=wards if len(wards) > 1 else ()).add_to(m)

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
