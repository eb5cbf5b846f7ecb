// The tracking page's map: a marker at the place the public may see (the nearest police.uk
// street point for safety reports), labelled in words; pages without a point have no map.
(function () {
  "use strict";
  var node = document.getElementById("area-map");
  if (!node || !window.L) { return; }
  node.hidden = false;
  var point = [parseFloat(node.getAttribute("data-lat")), parseFloat(node.getAttribute("data-lon"))];
  var map = window.L.map(node, { scrollWheelZoom: false, keyboard: false }).setView(point, 16);
  var tiles = node.getAttribute("data-tiles");
  if (tiles) {
    window.L.tileLayer(tiles, {
      maxZoom: 17,
      attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>"
    }).addTo(map);
  }
  window.L.circleMarker(point, { radius: 8 })
    .bindTooltip(node.getAttribute("data-label"), { permanent: true, direction: "top" })
    .addTo(map);
}());
