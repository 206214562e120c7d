/* Enterprise picker: while a name or credit code is typed into input[data-enterprise-lookup], suggest the
   enterprises of the user's region (enterprises:lookup answers inside the user's scope). A suggestion fills in
   "名称（信用代码）" and the server reads the code back; without JavaScript a full name or code works as typed. */
(function () {
  "use strict";
  var MIN_LENGTH = 2;
  var DELAY_MS = 250;

  function attach(input) {
    var list = document.createElement("datalist");
    list.id = input.id + "-suggestions";
    input.insertAdjacentElement("afterend", list);
    input.setAttribute("list", list.id);
    var timer = null;
    var asked = "";

    function show(results) {
      var options = results.map(function (item) {
        var option = document.createElement("option");
        option.value = item.label;
        option.textContent = item.township;
        return option;
      });
      list.replaceChildren.apply(list, options);
    }

    function ask(text) {
      asked = text;
      var url = input.getAttribute("data-enterprise-lookup") + "?q=" + encodeURIComponent(text);
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (data) { if (asked === text) { show(data.results || []); } })
        .catch(function () { /* no suggestions: the field still takes a full name or code */ });
    }

    input.addEventListener("input", function () {
      var text = input.value.trim();
      var chosen = Array.prototype.some.call(list.options, function (option) { return option.value === text; });
      window.clearTimeout(timer);
      if (chosen || text.length < MIN_LENGTH || text === asked) { return; }
      timer = window.setTimeout(function () { ask(text); }, DELAY_MS);
    });
  }

  document.querySelectorAll("input[data-enterprise-lookup]").forEach(attach);
}());
