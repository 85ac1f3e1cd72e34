// A background set's page: polls the page's own status route (the session cookie is
// the credential; the page never holds the instructor token) and updates the progress
// in place; once the set is finished, the page is loaded again to show the download.
// Without this script the page reloads itself (a <noscript> meta refresh).
(function () {
  "use strict";
  var ACTIVE = { queued: true, running: true };

  function start() {
    var box = document.getElementById("job");
    if (!box || !window.fetch) return;
    var url = box.getAttribute("data-status-url");
    var every = parseInt(box.getAttribute("data-poll-ms"), 10) || 1000;
    var state = document.getElementById("job-state");
    var done = document.getElementById("job-done");
    var bar = document.getElementById("job-progress");
    var note = document.getElementById("job-note");

    function poll() {
      fetch(url, { credentials: "same-origin", cache: "no-store",
                   headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (job) {
          state.textContent = job.status.charAt(0).toUpperCase() + job.status.slice(1);
          done.textContent = String(job.done);
          bar.max = job.of;
          bar.value = job.done;
          bar.textContent = Math.round(100 * job.done / Math.max(job.of, 1)) + "%";
          note.textContent = job.status === "running" && job.done === job.of
            ? "Every sheet is made; now the answer key and the class's files." : "";
          if (ACTIVE[job.status]) window.setTimeout(poll, every);
          else window.location.reload();
        })
        .catch(function () { window.setTimeout(poll, every * 4); });
    }
    window.setTimeout(poll, every);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}());
