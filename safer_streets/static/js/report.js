// Progressive enhancement: without JavaScript the latitude/longitude fields still work.
(function () {
  "use strict";
  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  if (!button || !("geolocation" in navigator)) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = "Finding your location…";
    navigator.geolocation.getCurrentPosition(function (position) {
      document.getElementById("lat").value = position.coords.latitude.toFixed(6);
      document.getElementById("lon").value = position.coords.longitude.toFixed(6);
      status.textContent = "Location found.";
    }, function () {
      status.textContent = "We could not get your location. Please enter it below.";
    }, { enableHighAccuracy: true, timeout: 10000 });
  });
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
