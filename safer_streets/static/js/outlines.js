// The borough and its wards drawn on a map, so that a resident can aim for Lewisham when map
// tiles are turned off or fail to load. Drawn under everything else and never clickable, so a
// tap on the map still places the pin.
(function () {
  "use strict";
  window.saferStreetsOutlines = function (map, url) {
    if (!window.L || !window.fetch || !url) { return; }
    window.fetch(url).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (outlines) {
      if (!outlines) { return; }
      window.L.geoJSON(outlines, {
        interactive: false,
        style: function (feature) {
          var borough = feature.properties.kind === "borough";
          return { color: borough ? "#1b1b1b" : "#505a5f", weight: borough ? 3 : 1, fill: false, dashArray: borough ? null : "4 4" };
        }
      }).addTo(map).bringToBack();
    }).catch(function () { /* no outlines offline: the form works without them */ });
  };
}());
