// Show only the fields of the chosen category (destination park, absorbing enterprise, exclusion reason), and
// hide those a category has not got (an exclusion has no deadline). Without JavaScript every field stays
// visible and the server ignores those of other categories.
(function () {
  "use strict";
  var category = document.querySelector('select[name="category"]');
  if (!category) { return; }
  var fields = document.querySelectorAll("[data-category], [data-category-not]");
  function update() {
    fields.forEach(function (field) {
      var wrapper = field.closest(".mb-3") || field.parentNode;
      if (field.dataset.category !== undefined) {
        wrapper.hidden = field.dataset.category !== category.value;
      } else {
        wrapper.hidden = field.dataset.categoryNot === category.value;
      }
    });
  }
  category.addEventListener("change", update);
  update();
}());
