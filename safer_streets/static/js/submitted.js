// The confirmation page: say who the report went to as soon as the worker has routed it.
(function () {
  "use strict";
  var node = document.getElementById("routing");
  if (!node || !window.fetch) { return; }
  Array.prototype.forEach.call(document.querySelectorAll(".js-hide"), function (link) {
    link.hidden = true;
  });
  var attempts = 0;
  function poll() {
    attempts += 1;
    fetch(node.getAttribute("data-url"), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (report) {
        if (report && report.status === "needs_location") {
          node.textContent = node.getAttribute("data-needs-location");
        } else if (report && report.owner) {
          node.textContent = node.getAttribute("data-sent-to").replace("%(team)s", report.owner.name);
        } else if (attempts < 30) {
          setTimeout(poll, 2000);
        }
      })
      .catch(function () { if (attempts < 30) { setTimeout(poll, 4000); } });
  }
  if (node.querySelector(".js-hide")) { setTimeout(poll, 1000); }
}());
