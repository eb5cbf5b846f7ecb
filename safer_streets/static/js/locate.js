// Progressive enhancement: a map to click; without JavaScript the fields still work.
(function () {
  "use strict";
  var element = document.getElementById("locate-map");
  if (!element || typeof L === "undefined") { return; }
  element.hidden = false;
  var map = L.map(element).setView([51.445, -0.02], 13);
  var tiles = element.getAttribute("data-tiles");
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  }
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  var marker = null;
  function place(latlng) {
    lat.value = latlng.lat.toFixed(6);
    lon.value = latlng.lng.toFixed(6);
    if (marker) { marker.setLatLng(latlng); } else { marker = L.marker(latlng).addTo(map); }
  }
  map.on("click", function (event) { place(event.latlng); });
  var bounds = [];
  document.querySelectorAll("#candidates li").forEach(function (item) {
    var point = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
    L.circleMarker(point, { radius: 7 }).addTo(map).bindTooltip(item.dataset.label);
    bounds.push(point);
  });
  if (bounds.length) { map.fitBounds(bounds, { maxZoom: 16, padding: [30, 30] }); }
  if (lat.value && lon.value) { place(L.latLng(parseFloat(lat.value), parseFloat(lon.value))); }
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
