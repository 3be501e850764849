// The steward forms' small enhancements; every form works without this file.
// * "Add another" in a formset copies the empty row kept in a <template> and counts it in TOTAL_FORMS.
// * A slug field (data-slug-from="id_name") follows its name until someone types in it.
(function () {
  "use strict";

  function setUpFormset(formset) {
    var prefix = formset.dataset.prefix;
    var total = formset.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    var template = formset.querySelector("template[data-formset-template]");
    var rows = formset.querySelector("[data-formset-rows]");
    var button = formset.querySelector("[data-formset-add]");
    if (!total || !template || !rows || !button) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10) || 0;
      rows.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__prefix__/g, String(index)));
      total.value = String(index + 1);
      var first = rows.lastElementChild && rows.lastElementChild.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    });
  }

  function slugify(text) {
    return text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9\s-]/g, "")
      .trim()
      .replace(/[\s-]+/g, "-")
      .slice(0, 100);
  }

  function setUpSlug(slug) {
    var source = document.getElementById(slug.dataset.slugFrom);
    if (!source) return;
    var typed = slug.value !== "" && slug.value !== slugify(source.value);
    slug.placeholder = slugify(source.value) || "made-from-the-name";
    slug.addEventListener("input", function () {
      typed = slug.value !== "";
    });
    source.addEventListener("input", function () {
      if (!typed) slug.value = slugify(source.value);
    });
  }

  document.querySelectorAll("[data-formset]").forEach(setUpFormset);
  document.querySelectorAll("[data-slug-from]").forEach(setUpSlug);
})();
