// Quick exit: leave for a neutral site at once, replacing this page in the history so that
// Back does not return here. Without JavaScript the control is a plain link.
(function () {
  "use strict";
  var link = document.getElementById("quick-exit");
  if (!link) { return; }
  var hint = link.querySelector(".quick-exit-key");
  if (hint) { hint.hidden = false; }
  function leave(event) {
    if (event) { event.preventDefault(); }
    document.title = "";
    document.body.hidden = true;
    window.location.replace(link.href);
  }
  link.addEventListener("click", leave);
  document.addEventListener("keydown", function (event) {
    // Other controls (the place suggestions, the map) use Escape first and mark it handled.
    if (event.key === "Escape" && !event.defaultPrevented) { leave(event); }
  });
}());
