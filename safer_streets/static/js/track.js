// The tracking page's map: a circle around the area of the report, never a pin on the spot.
(function () {
  "use strict";
  var node = document.getElementById("area-map");
  if (!node || !window.L) { return; }
  node.hidden = false;
  var centre = [parseFloat(node.getAttribute("data-lat")), parseFloat(node.getAttribute("data-lon"))];
  var map = window.L.map(node, { scrollWheelZoom: false, keyboard: false }).setView(centre, 15);
  var tiles = node.getAttribute("data-tiles");
  if (tiles) {
    window.L.tileLayer(tiles, {
      maxZoom: 17,
      attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>"
    }).addTo(map);
  }
  window.L.circle(centre, { radius: parseInt(node.getAttribute("data-radius"), 10) }).addTo(map);
}());
