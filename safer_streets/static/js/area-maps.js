// The named areas page: each area's outline on a small map, inside the borough outline, so an
// upload can be checked at a glance. Works without map tiles: the outlines are the map.
(function () {
  "use strict";
  var holder = document.getElementById("area-maps");
  if (!holder || !window.L || !window.fetch) { return; }
  var L = window.L;
  function json(url) {
    return window.fetch(url, { credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.json() : null;
    });
  }
  Promise.all([json(holder.getAttribute("data-outlines")), json(holder.getAttribute("data-borough"))]).then(function (answers) {
    var areas = answers[0];
    var borough = answers[1];
    if (!areas) { return; }
    var bySlug = {};
    areas.features.forEach(function (feature) { bySlug[feature.properties.slug] = feature; });
    var tiles = holder.getAttribute("data-tiles");
    Array.prototype.forEach.call(document.querySelectorAll(".area-map[data-slug]"), function (node) {
      var feature = bySlug[node.getAttribute("data-slug")];
      if (!feature) { return; }
      node.hidden = false;
      var map = L.map(node, { scrollWheelZoom: false, attributionControl: Boolean(tiles) });
      if (tiles) {
        L.tileLayer(tiles, {
          maxZoom: 18,
          attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>"
        }).addTo(map);
      }
      if (borough) {
        L.geoJSON(borough, {
          interactive: false,
          filter: function (f) { return f.properties.kind === "borough"; },
          style: { color: "#505a5f", weight: 1, fill: false, dashArray: "4 4" }
        }).addTo(map);
      }
      var outline = L.geoJSON(feature, {
        interactive: false,
        style: { color: "#0b5c46", weight: 2, fillColor: "#0b5c46", fillOpacity: 0.25 }
      }).addTo(map);
      map.fitBounds(outline.getBounds().pad(0.3));
    });
  });
}());
