// Refreshes a running broadcast's counts every two seconds, and the whole page once it has finished.
// Served by the bot itself; without it the page refreshes itself every five seconds (<noscript>).
(function () {
  "use strict";
  var table = document.querySelector("[data-live]");
  if (!table) { return; }
  var url = table.getAttribute("data-live");
  var status = document.getElementById("status");
  function tick() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) {
        if (!progress) { return; }
        Object.keys(progress.counts).forEach(function (state) {
          var cell = table.querySelector('[data-count="' + state + '"]');
          if (cell) { cell.textContent = String(progress.counts[state]); }
        });
        if (progress.state !== status.getAttribute("data-state")) {
          window.location.reload();
          return;
        }
        window.setTimeout(tick, 2000);
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 2000);
})();
