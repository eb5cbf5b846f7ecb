// Links marked data-history-back return to the previous page, keeping what was typed there.
(function () {
  "use strict";
  document.querySelectorAll("[data-history-back]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (window.history.length > 1) { event.preventDefault(); window.history.back(); }
    });
  });
}());
