// The tracking page's maps. The place the public may see: a marker (the nearest police.uk
// street point for safety reports), or the outline of the street or area a typed place may be
// anywhere in, labelled in words; pages without a point have no map. And, for the reporter of
// a report whose typed place could not be found, a map to put it on.
(function () {
  "use strict";
  if (!window.L) { return; }
  var LEWISHAM = [51.4452, -0.0209];

  function tiles(map, node) {
    var url = node.getAttribute("data-tiles");
    if (url) {
      window.L.tileLayer(url, {
        maxZoom: 17,
        attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>"
      }).addTo(map);
    }
  }

  var node = document.getElementById("area-map");
  if (node) {
    node.hidden = false;
    var point = [parseFloat(node.getAttribute("data-lat")), parseFloat(node.getAttribute("data-lon"))];
    var map = window.L.map(node, { scrollWheelZoom: false, keyboard: false }).setView(point, 16);
    tiles(map, node);
    var outline = node.getAttribute("data-outline");
    if (outline) {
      var shape = window.L.geoJSON(JSON.parse(outline), { style: { weight: 2, fillOpacity: 0.15 } })
        .bindTooltip(node.getAttribute("data-label"), { permanent: true, direction: "top" })
        .addTo(map);
      map.fitBounds(shape.getBounds(), { maxZoom: 17 });
    } else {
      window.L.circleMarker(point, { radius: 8 })
        .bindTooltip(node.getAttribute("data-label"), { permanent: true, direction: "top" })
        .addTo(map);
    }
  }

  var form = document.getElementById("place-pin-form");
  var placeNode = document.getElementById("place-map");
  if (form && placeNode) {
    form.hidden = false;
    var placeMap = window.L.map(placeNode, { tap: true }).setView(LEWISHAM, 13);
    tiles(placeMap, placeNode);
    if (window.saferStreetsOutlines) {
      window.saferStreetsOutlines(placeMap, placeNode.getAttribute("data-outlines"));
    }
    var lat = document.getElementById("place-lat");
    var lon = document.getElementById("place-lon");
    var button = document.getElementById("place-pin-submit");
    var marker = null;
    placeMap.on("click", function (event) {
      lat.value = event.latlng.lat.toFixed(6);
      lon.value = event.latlng.lng.toFixed(6);
      if (marker) { marker.setLatLng(event.latlng); } else { marker = window.L.marker(event.latlng).addTo(placeMap); }
      button.disabled = false;
    });
  }
}());
