// opentrail console: small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Rows with data-href open their link on Enter or click, like a link.
  document.querySelectorAll("tr[data-href]").forEach(function (tr) {
    tr.tabIndex = 0;
    tr.addEventListener("click", function (e) {
      if (e.target.closest("a, button, input, select, label")) return;
      window.location = tr.dataset.href;
    });
    tr.addEventListener("keydown", function (e) {
      if (e.key === "Enter") window.location = tr.dataset.href;
    });
  });
  // "/" focuses the page's search box, as in many consoles.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.target.matches("input, textarea, select")) return;
    var q = document.querySelector("[data-search]");
    if (q) { e.preventDefault(); q.focus(); }
  });
});
