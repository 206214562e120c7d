// Live GB 18218-2018 grading of the unit being entered: S, R, α, each βq/Q term and the level, as the user types.
// The server computes (enterprises.hazards, through the hazard-grading endpoint) and returns the panel's HTML;
// this only sends the form's fields and shows the answer. Without JavaScript the panel shows the last saved
// or submitted grading.
(function () {
  "use strict";
  var panel = document.getElementById("hazard-grading");
  if (!panel) { return; }
  var form = panel.closest("form") || document.querySelector("form[data-hazard-form]");
  if (!form) { return; }
  var url = panel.dataset.url;
  var timer = null;
  var sent = 0;
  function refresh() {
    var query = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (key === "csrfmiddlewaretoken" || typeof value !== "string") { return; }
      if (key === "exposed_population" || key.indexOf("inventory-") === 0) { query.append(key, value); }
    });
    var mine = ++sent;
    fetch(url + "?" + query.toString(), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || mine !== sent) { return; }
        panel.innerHTML = data.html || panel.dataset.empty;
      })
      .catch(function () { /* keep the last panel: the server grades again on save */ });
  }
  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
}());
