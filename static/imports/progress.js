/* Roster import: poll the import's status while the worker reads or imports it; reload when it is done. */
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector(".progress-bar");
  var holder = box.querySelector(".progress");
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var percent = Math.max(0, Math.min(100, data.progress || 0));
        bar.style.width = percent + "%";
        bar.textContent = percent + "%";
        holder.setAttribute("aria-valuenow", String(percent));
        if (data.running) {
          window.setTimeout(poll, 1500);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
