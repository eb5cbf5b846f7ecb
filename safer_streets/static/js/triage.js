// Partner pages. Everything works without this script; it adds maps and conveniences.
(function () {
  "use strict";
  var LEWISHAM = [51.445, -0.02];
  // Keep in step with the legend in css/triage.css (.swatch-*).
  var COLOURS = { routed: "#d4351c", acknowledged: "#f47738", in_progress: "#1d70b8",
    resolved: "#00703c", not_actionable: "#505a5f", referred: "#4c2c92", duplicate: "#505a5f" };

  function readPoints() {
    var node = document.getElementById("map-points");
    try { return node ? JSON.parse(node.textContent) : []; } catch (e) { return []; }
  }

  function makeMap(element) {
    var map = L.map(element, { scrollWheelZoom: false });
    var tiles = L.tileLayer(element.dataset.tiles, {
      maxZoom: 19,
      attribution: "&copy; OpenStreetMap contributors"
    });
    // Without tiles (offline, blocked) the markers still show on a plain background.
    var warned = false;
    tiles.on("tileerror", function () {
      if (warned) { return; }
      warned = true;
      var note = document.createElement("p");
      note.className = "hint map-note";
      note.textContent = "The background map could not be loaded; the markers are still in place.";
      element.insertAdjacentElement("afterend", note);
    });
    tiles.addTo(map);
    return map;
  }

  // A report placed from a typed street or place is somewhere along it, not at the marker:
  // a dashed, paler marker (see the legend).
  function marker(point, radius) {
    return L.circleMarker([point.lat, point.lon], {
      radius: radius, weight: 2, color: "#0b0c0c", dashArray: point.somewhere ? "3 3" : null,
      fillColor: COLOURS[point.status] || "#1d70b8", fillOpacity: point.somewhere ? 0.35 : 0.85
    });
  }

  function link(reference, text) {
    var a = document.createElement("a");
    a.href = "/triage/reports/" + encodeURIComponent(reference);
    a.textContent = text;
    return a;
  }

  // The queue's markers come from their own request, so the list is shown without waiting.
  function showQueueMarkers(element, map, points) {
    var bounds = [];
    points.forEach(function (p) {
      marker(p, 6).bindPopup(link(p.reference, p.reference + ": " + p.category + ", " + p.place))
        .addTo(map);
      bounds.push([p.lat, p.lon]);
    });
    if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 }); }
    var hint = document.getElementById("queue-map-hint");
    var matching = element.dataset.matching;
    if (hint && (element.dataset.capped === "yes" || parseInt(element.dataset.total, 10) > points.length)) {
      hint.textContent = "The map shows " + points.length + " of these " + matching +
        " reports, the first in this order.";
      hint.hidden = false;
    }
    element.setAttribute("aria-label", "Map of " + points.length + " of these reports");
  }

  var queueMap = document.getElementById("queue-map");
  if (queueMap && window.L) {
    var map = makeMap(queueMap).setView(LEWISHAM, 12);
    fetch(queueMap.dataset.points, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (body) { showQueueMarkers(queueMap, map, body.points); })
      .catch(function () {
        var hint = document.getElementById("queue-map-hint");
        if (hint) {
          hint.textContent = "The markers could not be loaded; the list below is not affected.";
          hint.hidden = false;
        }
      });
  }

  var reportMap = document.getElementById("report-map");
  if (reportMap && window.L) {
    var here = [parseFloat(reportMap.dataset.lat), parseFloat(reportMap.dataset.lon)];
    var small = makeMap(reportMap).setView(here, 16);
    L.circle(here, { radius: 250, weight: 1, fill: false, color: "#505a5f" }).addTo(small);
    readPoints().forEach(function (p) {
      marker(p, 5).bindPopup(link(p.reference, p.reference)).addTo(small);
    });
    if (reportMap.dataset.outline) {
      // Placed from a typed street or place: somewhere in its outline, not at a point.
      var outline = L.geoJSON(JSON.parse(reportMap.dataset.outline), {
        style: { weight: 3, color: "#0b0c0c", fillColor: "#ffdd00", fillOpacity: 0.3 }
      }).addTo(small);
      small.fitBounds(outline.getBounds(), { maxZoom: 17 });
    } else {
      L.circleMarker(here, { radius: 9, weight: 3, color: "#0b0c0c", fillColor: "#ffdd00", fillOpacity: 1 })
        .addTo(small);
    }
  }

  var action = document.getElementById("bulk-action");
  var value = document.getElementById("bulk-value");
  if (action && value) {
    var sync = function () {
      var option = action.options[action.selectedIndex];
      value.value = option.dataset.value || (option.value === "assign" ? "me" : "");
    };
    action.addEventListener("change", sync);
    sync();
  }
  var all = document.getElementById("select-all");
  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=selected]").forEach(function (box) { box.checked = all.checked; });
    });
  }

  var template = document.getElementById("template");
  var text = document.getElementById("public_update");
  if (template && text) {
    template.addEventListener("change", function () {
      var option = template.options[template.selectedIndex];
      if (option.dataset.body && !text.value.trim()) { text.value = option.dataset.body; }
    });
  }

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
