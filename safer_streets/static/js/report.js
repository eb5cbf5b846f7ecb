// The report page, enhanced: a map with a pin, "use my location", place suggestions as you
// type, similar reports nearby, and small helpers. Without JavaScript the same form works with
// the postcode/street field; everything here only adds to it.
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  var configNode = document.getElementById("report-config");
  if (!form || !configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var text = config.text;
  var MAX_PHOTO_BYTES = 10 * 1024 * 1024;
  var MAX_DESCRIPTION = 4000;
  var LEWISHAM = [51.4452, -0.0207];

  function $(id) { return document.getElementById(id); }
  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }
  function debounce(fn, ms) {
    var timer;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }
  // Values set here rather than typed (the pin, a chosen place) fire no input event: say so,
  // for the draft kept on the phone (report-draft.js).
  function changed() {
    form.dispatchEvent(new Event("reportchange"));
  }
  function getJSON(url, params, signal) {
    var query = Object.keys(params).map(function (key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(params[key]);
    }).join("&");
    return fetch(url + "?" + query, { headers: { Accept: "application/json" }, signal: signal })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      });
  }

  var latInput = $("lat");
  var lonInput = $("lon");
  var placeInput = $("location_text");
  var statusNode = $("location-status");
  var nearbyChecked = $("nearby_checked");
  var pointFrom = $("point_from");

  Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (node) {
    node.hidden = false;
  });

  var summary = $("error-summary");
  if (summary) { summary.focus(); }

  // ---- conditional questions: show only the chosen answer's follow-up ---------------------
  function syncConditionals(name, attribute) {
    var checked = form.querySelector("input[name='" + name + "']:checked");
    Array.prototype.forEach.call(form.querySelectorAll("[" + attribute + "]"), function (node) {
      var open = checked && node.getAttribute(attribute) === checked.value;
      node.hidden = !open;
    });
  }
  function watchRadios(name, attribute) {
    Array.prototype.forEach.call(form.querySelectorAll("input[name='" + name + "']"), function (radio) {
      radio.addEventListener("change", function () { syncConditionals(name, attribute); });
    });
    syncConditionals(name, attribute);
  }
  watchRadios("when", "data-when");
  watchRadios("updates", "data-updates");

  // ---- category: reasons, the prominent safety notice, similar reports --------------------
  function chosenCategory() {
    return form.querySelector("input[name='category']:checked");
  }
  function syncCategory() {
    var chosen = chosenCategory();
    Array.prototype.forEach.call(form.querySelectorAll("fieldset.reasons"), function (node) {
      node.hidden = !(chosen && chosen.getAttribute("data-reasons") === node.id);
    });
    $("sensitive-notice").hidden = !(chosen && chosen.hasAttribute("data-sensitive"));
    syncPromises(chosen);
  }
  // What will be public: only the chosen category's sentences, open.
  function syncPromises(chosen) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-promise-categories]"), function (group) {
      var applies = Boolean(chosen) &&
        group.getAttribute("data-promise-categories").split(" ").indexOf(chosen.value) !== -1;
      group.hidden = !applies;
      if (applies) { group.open = true; }
    });
    $("promises-intro").hidden = true;
    $("promises-choose").hidden = Boolean(chosen);
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name='category']"), function (radio) {
    radio.addEventListener("change", function () { syncCategory(); checkSimilar(); });
  });
  syncCategory();

  // ---- similar open reports nearby: "Is this the same? Add your voice instead" ------------
  var similarRequest = null;
  function hideSimilar() {
    $("similar").hidden = true;
    $("similar-list").textContent = "";
  }
  function renderSimilar(reports) {
    var list = $("similar-list");
    list.textContent = "";
    reports.forEach(function (report) {
      var item = document.createElement("li");
      var title = document.createElement("p");
      title.className = "similar-title";
      title.textContent = report.category + (report.street ? " · " + report.street : "");
      var details = document.createElement("p");
      details.className = "hint";
      details.textContent = [
        report.words.reported, report.words.distance, report.words.supporters
      ].join(" · ");
      var button = document.createElement("button");
      button.type = "submit";
      button.className = "secondary";
      button.setAttribute("form", "support-form");
      button.name = "reference";
      button.value = report.reference;
      button.textContent = text.addVoice;
      button.setAttribute("aria-describedby", "similar-title");
      item.appendChild(title);
      item.appendChild(details);
      item.appendChild(button);
      list.appendChild(item);
    });
    $("similar").hidden = reports.length === 0;
  }
  // What the resident has typed so far goes with their voice, to check on the next page.
  var supportForm = $("support-form");
  var carriedToSupport = ["when", "today_time", "occurred_date", "occurred_time", "updates",
    "contact_email"];
  supportForm.addEventListener("submit", function () {
    Array.prototype.forEach.call(supportForm.querySelectorAll("input[data-carried]"),
      function (node) { supportForm.removeChild(node); });
    var chosen = chosenCategory();
    var shown = chosen && $(chosen.getAttribute("data-reasons") || "");
    var values = [];
    if (shown) {
      Array.prototype.forEach.call(shown.querySelectorAll("input[name='reasons']:checked"),
        function (box) { values.push(["reasons", box.value]); });
    }
    carriedToSupport.forEach(function (name) {
      var field = form.querySelector("input[name='" + name + "']:checked") ||
        form.querySelector("input[name='" + name + "']:not([type=radio]):not([type=checkbox])");
      if (field && field.value) { values.push([name, field.value]); }
    });
    values.forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      input.setAttribute("data-carried", "");
      supportForm.appendChild(input);
    });
  });
  function checkSimilar() {
    nearbyChecked.value = "";
    var chosen = chosenCategory();
    if (!chosen || !latInput.value || !lonInput.value) { hideSimilar(); return; }
    if (similarRequest) { similarRequest.abort(); }
    similarRequest = new AbortController();
    getJSON(config.similarUrl, { category: chosen.value, lat: latInput.value, lon: lonInput.value },
      similarRequest.signal)
      .then(function (result) {
        if (!result.ok) { hideSimilar(); return; }
        renderSimilar(result.body.reports);
        // The resident has seen what is nearby: the server need not ask again.
        nearbyChecked.value = "yes";
      })
      .catch(function () { /* aborted or offline: the server asks instead */ });
  }

  // ---- the map and the pin ----------------------------------------------------------------
  var map = null;
  var marker = null;
  var reverseRequest = null;

  function describePoint(lat, lon) {
    if (reverseRequest) { reverseRequest.abort(); }
    reverseRequest = new AbortController();
    getJSON(config.reverseUrl, { lat: lat, lon: lon }, reverseRequest.signal)
      .then(function (result) {
        if (!result.ok) {
          statusNode.textContent = text.outside;
          return;
        }
        var label = result.body.label;
        statusNode.textContent = label ? format(text.pinNear, { place: label }) : text.pinPlaced;
        if (label) { placeInput.value = label; changed(); }
      })
      .catch(function () { statusNode.textContent = text.pinPlaced; });
  }

  function setPoint(lat, lon, options) {
    options = options || {};
    // Where the point came from: a pin unless the device's location or a picked place (the
    // server checks a "place" against the typed text).
    if (!options.typed) { pointFrom.value = options.from || ""; }
    if (!options.typed) {
      latInput.value = Number(lat).toFixed(6);
      lonInput.value = Number(lon).toFixed(6);
    }
    if (map) {
      var here = [lat, lon];
      if (marker) { marker.setLatLng(here); } else { addMarker(here); }
      if (options.zoom) { map.setView(here, Math.max(map.getZoom(), 17)); }
    }
    if (options.describe !== false) { describePoint(lat, lon); }
    checkSimilar();
    changed();
  }

  function clearPoint() {
    pointFrom.value = "";
    latInput.value = "";
    lonInput.value = "";
    if (marker && map) { map.removeLayer(marker); marker = null; }
    hideSimilar();
    nearbyChecked.value = "";
    changed();
  }

  function addMarker(here) {
    marker = window.L.marker(here, {
      draggable: true, keyboard: true, title: text.pinPlaced, alt: text.pinPlaced, autoPan: true
    }).addTo(map);
    marker.on("dragend", function () {
      var position = marker.getLatLng();
      setPoint(position.lat, position.lng);
    });
  }

  if (window.L && $("report-map")) {
    map = window.L.map("report-map", { zoomControl: true, tap: true }).setView(LEWISHAM, 13);
    if (config.tiles) {
      window.L.tileLayer(config.tiles, {
        maxZoom: 19,
        attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>"
      }).addTo(map);
    }
    if (window.saferStreetsOutlines) { window.saferStreetsOutlines(map, config.outlinesUrl); }
    map.on("click", function (event) { setPoint(event.latlng.lat, event.latlng.lng); });
    if (typedPoint()) {
      setPoint(+latInput.value, +lonInput.value, { zoom: true, typed: true, describe: !placeInput.value });
    }
  } else {
    var wrap = document.querySelector(".map-wrap");
    if (wrap) { wrap.hidden = true; }
  }

  // Coordinates typed by hand move the pin too (and are kept exactly as typed).
  function typedPoint() {
    return latInput.value.trim() && lonInput.value.trim() &&
      isFinite(+latInput.value) && isFinite(+lonInput.value);
  }
  [latInput, lonInput].forEach(function (input) {
    input.addEventListener("change", function () {
      if (typedPoint()) { setPoint(+latInput.value, +lonInput.value, { zoom: true, typed: true }); }
    });
  });

  var locateButton = $("use-location");
  if (locateButton && "geolocation" in navigator) {
    locateButton.addEventListener("click", function () {
      statusNode.textContent = text.finding;
      navigator.geolocation.getCurrentPosition(function (position) {
        setPoint(position.coords.latitude, position.coords.longitude, { zoom: true, from: "device" });
      }, function () {
        statusNode.textContent = text.locationFailed;
      }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    });
  } else if (locateButton) {
    locateButton.hidden = true;
  }

  // ---- place suggestions as you type (an ARIA 1.2 combobox) ------------------------------
  var list = $("place-suggestions");
  var options = [];
  var active = -1;
  var placesRequest = null;
  placeInput.setAttribute("role", "combobox");
  placeInput.setAttribute("aria-autocomplete", "list");
  placeInput.setAttribute("aria-expanded", "false");
  placeInput.setAttribute("aria-controls", "place-suggestions");

  function closeList() {
    list.hidden = true;
    list.textContent = "";
    options = [];
    active = -1;
    placeInput.setAttribute("aria-expanded", "false");
    placeInput.removeAttribute("aria-activedescendant");
  }
  function highlight(index) {
    active = index;
    Array.prototype.forEach.call(list.children, function (node, i) {
      node.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0) {
      placeInput.setAttribute("aria-activedescendant", list.children[index].id);
      list.children[index].scrollIntoView({ block: "nearest" });
    } else {
      placeInput.removeAttribute("aria-activedescendant");
    }
  }
  function choose(index) {
    var place = options[index];
    if (!place) { return; }
    placeInput.value = place.label;
    closeList();
    statusNode.textContent = format(text.pinNear, { place: place.label });
    setPoint(place.lat, place.lon, { zoom: true, describe: false, from: "place" });
  }
  function showSuggestions(results) {
    list.textContent = "";
    options = results;
    active = -1;
    results.forEach(function (place, index) {
      var item = document.createElement("li");
      item.id = "place-option-" + index;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.textContent = place.label;
      if (place.ward) {
        var ward = document.createElement("span");
        ward.className = "hint";
        ward.textContent = " " + place.ward.name;
        item.appendChild(ward);
      }
      // mousedown, not click: it fires before the input loses focus.
      item.addEventListener("mousedown", function (event) { event.preventDefault(); choose(index); });
      list.appendChild(item);
    });
    list.hidden = results.length === 0;
    placeInput.setAttribute("aria-expanded", results.length ? "true" : "false");
    statusNode.textContent = results.length
      ? format(text.suggestions, { count: results.length })
      : text.noMatches;
  }
  var lookUp = debounce(function (query) {
    if (placesRequest) { placesRequest.abort(); }
    placesRequest = new AbortController();
    getJSON(config.placesUrl, { q: query }, placesRequest.signal)
      .then(function (result) {
        if (result.ok && placeInput.value.trim() === query) { showSuggestions(result.body.results); }
      })
      .catch(function () { /* aborted, or offline: the typed text is still sent */ });
  }, 250);

  placeInput.addEventListener("input", function () {
    // Typing a place replaces the pin: the text is now the location, unless a suggestion is picked.
    if (latInput.value || lonInput.value) { clearPoint(); }
    var query = placeInput.value.trim();
    if (query.length < 2) { closeList(); return; }
    lookUp(query);
  });
  placeInput.addEventListener("keydown", function (event) {
    if (list.hidden) { return; }
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight(Math.min(active + 1, options.length - 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(Math.max(active - 1, 0));
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      // Close the list; the quick exit only answers an Escape nothing else used.
      event.preventDefault();
      closeList();
    }
  });
  placeInput.addEventListener("blur", function () { setTimeout(closeList, 150); });

  // Back to this page (the browser restores what was typed), or a draft restored from the
  // phone: show the same state again.
  function resync() {
    syncConditionals("when", "data-when");
    syncConditionals("updates", "data-updates");
    syncCategory();
    if (typedPoint()) {
      setPoint(+latInput.value, +lonInput.value, { zoom: true, typed: true, describe: false });
    } else if (marker && map) {
      map.removeLayer(marker);
      marker = null;
    }
  }
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { resync(); }
  });
  form.addEventListener("draftrestored", resync);

  // ---- photo size, description length ----------------------------------------------------
  var photoInput = $("photo");
  if (photoInput) {
    photoInput.addEventListener("change", function () {
      var file = photoInput.files && photoInput.files[0];
      var message = $("photo-size-error");
      if (message) { message.parentNode.removeChild(message); }
      photoInput.removeAttribute("aria-invalid");
      if (file && file.size > MAX_PHOTO_BYTES) {
        message = document.createElement("p");
        message.className = "field-error";
        message.id = "photo-size-error";
        message.setAttribute("role", "alert");
        message.textContent = text.tooBig;
        photoInput.parentNode.insertBefore(message, photoInput);
        photoInput.setAttribute("aria-invalid", "true");
        photoInput.value = "";
      }
    });
  }
  var description = $("description");
  var count = $("description-count");
  if (description && count) {
    var updateCount = debounce(function () {
      var left = MAX_DESCRIPTION - description.value.length;
      count.textContent = left >= 0
        ? format(text.charactersLeft, { count: left.toLocaleString() })
        : format(text.charactersOver, { count: (-left).toLocaleString() });
      count.classList.toggle("field-error", left < 0);
    }, 300);
    description.addEventListener("input", updateCount);
  }
}());
