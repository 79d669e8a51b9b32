// Redraws the dashboard's charts without reloading the page: every few seconds it asks
// for the charts' container again (the URL the container names in data-fragment) and
// puts the answer in its place. Served by the dashboard itself as a file: the page's
// Content-Security-Policy allows scripts from this origin only (no inline script, no
// eval) and fetches to this origin only.
"use strict";
(function () {
  function schedule(seconds) {
    window.setTimeout(refresh, Math.max(Number(seconds) || 5, 1) * 1000);
  }

  // Tables the reader unfolded stay unfolded in the new container.
  function keepOpenTables(from, to) {
    from.querySelectorAll("details[data-table]").forEach(function (old) {
      var twin = to.querySelector('details[data-table="' + old.dataset.table + '"]');
      if (twin) {
        twin.open = old.open;
      }
    });
  }

  function refresh() {
    var current = document.getElementById("charts");
    if (!current) {
      return;
    }
    if (document.hidden) {
      schedule(current.dataset.refreshS);
      return;
    }
    fetch(current.dataset.fragment, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        // Redirected means signed out (the sign-in page came back): keep what is shown.
        if (!response.ok || response.redirected) {
          throw new Error("charts not refreshed: HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("charts");
        if (!fresh) {
          throw new Error("charts not refreshed: no charts in the answer");
        }
        keepOpenTables(current, fresh);
        current.replaceWith(document.adoptNode(fresh));
        schedule(fresh.dataset.refreshS);
      })
      .catch(function () {
        schedule(current.dataset.refreshS);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var charts = document.getElementById("charts");
    if (charts) {
      schedule(charts.dataset.refreshS);
    }
  });
})();
