// Quick exit: leave for a neutral site at once, replacing this page in the history so that
// Back does not return here, deleting any unsent report kept on the phone. Without JavaScript
// the control is a plain link.
(function () {
  "use strict";
  var link = document.getElementById("quick-exit");
  if (!link) { return; }
  var hint = link.querySelector(".quick-exit-key");
  if (hint) { hint.hidden = false; }
  var leaving = false;
  function leave(event) {
    if (event) { event.preventDefault(); }
    if (leaving) { return; }
    leaving = true;
    document.title = "";
    document.body.hidden = true;
    function go() { window.location.replace(link.href); }
    // A report kept on the phone must not stay behind on a shared phone: the page is already
    // blank while the draft is deleted, and the exit waits for it at most a second.
    var drafts = window.saferStreetsDrafts;
    if (!drafts) { go(); return; }
    drafts.clear().then(go, go);
    setTimeout(go, 1000);
  }
  link.addEventListener("click", leave);
  document.addEventListener("keydown", function (event) {
    // Other controls (the place suggestions, the map) use Escape first and mark it handled.
    if (event.key === "Escape" && !event.defaultPrevented) { leave(event); }
  });
}());
