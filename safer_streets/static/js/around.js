// The public map: borough and ward outlines (useful with no tiles) and a pin for each report
// in the list that may be placed. The list stays the way to read the reports; the map adds to it.
(function () {
  "use strict";
  var node = document.getElementById("around-map");
  if (!node || !window.L || !window.fetch) { return; }
  var L = window.L;
  node.hidden = false;
  var map = L.map(node, { scrollWheelZoom: false }).setView([51.445, -0.02], 12);
  var tiles = node.getAttribute("data-tiles");
  if (tiles) {
    L.tileLayer(tiles, {
      maxZoom: 18,
      attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>"
    }).addTo(map);
  }
  var pins = [];
  var rows = document.querySelectorAll("#around-list li[data-lat]");
  Array.prototype.forEach.call(rows, function (row) {
    var link = row.querySelector("a");
    var outline = row.getAttribute("data-outline");
    // A report placed from a typed street or place is somewhere in its outline: no pin.
    var pin = outline
      ? L.geoJSON(JSON.parse(outline), { style: { color: "#083f30", weight: 2, fillColor: "#0b5c46", fillOpacity: 0.2 } })
      : L.circleMarker([parseFloat(row.getAttribute("data-lat")), parseFloat(row.getAttribute("data-lon"))], {
        radius: 8, color: "#083f30", weight: 2, fillColor: "#0b5c46", fillOpacity: 0.8
      });
    var popup = document.createElement("a");
    popup.href = link.href;
    popup.textContent = link.textContent;
    pin.bindPopup(popup);
    pin.on("popupopen", function () { row.classList.add("selected"); });
    pin.on("popupclose", function () { row.classList.remove("selected"); });
    pin.addTo(map);
    pins.push(pin);
  });
  window.fetch(node.getAttribute("data-outlines")).then(function (response) {
    return response.ok ? response.json() : null;
  }).then(function (outlines) {
    if (!outlines) { return; }
    // Wards where a listed partner action was done stand out; the list below says what it was.
    var acted = {};
    Array.prototype.forEach.call(document.querySelectorAll("#partnership-actions [data-ward]"), function (item) {
      acted[item.getAttribute("data-ward")] = true;
    });
    var layer = L.geoJSON(outlines, {
      interactive: false,
      style: function (feature) {
        var borough = feature.properties.kind === "borough";
        if (!borough && acted[feature.properties.name]) {
          return { color: "#0b5c46", weight: 3, fill: true, fillColor: "#0b5c46", fillOpacity: 0.08 };
        }
        return { color: borough ? "#1b1b1b" : "#505a5f", weight: borough ? 3 : 1, fill: false, dashArray: borough ? null : "4 4" };
      }
    }).addTo(map);
    var key = document.getElementById("around-map-actions");
    if (key && Object.keys(acted).length) { key.hidden = false; }
    layer.bringToBack();
    var bounds = pins.length ? L.featureGroup(pins).getBounds().pad(0.2) : layer.getBounds();
    // Not closer than a few streets: the ward outlines stay in view around the pins.
    map.fitBounds(bounds, { maxZoom: 14 });
  });
}());
