// Show only the fields of the chosen category (destination park, absorbing enterprise, exclusion reason).
// Without JavaScript every field stays visible and the server ignores those of other categories.
(function () {
  "use strict";
  var category = document.querySelector('select[name="category"]');
  if (!category) { return; }
  var fields = document.querySelectorAll("[data-category]");
  function update() {
    fields.forEach(function (field) {
      var wrapper = field.closest(".mb-3") || field.parentNode;
      wrapper.hidden = field.dataset.category !== category.value;
    });
  }
  category.addEventListener("change", update);
  update();
}());
