// The product page's data panel: "Preview" loads an output's first rows into the page (an HTML fragment
// from /products/<slug>/outputs/<name>/preview/?fragment=1) instead of opening the full preview page.
// Without this file the link opens that page; if the fragment cannot be fetched, the link is followed.
(function () {
  "use strict";

  document.querySelectorAll("[data-preview]").forEach(function (link) {
    var target = document.getElementById(link.dataset.previewTarget);
    if (!target || !window.fetch) return;
    link.setAttribute("aria-expanded", "false");
    link.addEventListener("click", function (event) {
      event.preventDefault();
      if (link.getAttribute("aria-expanded") === "true") {
        target.replaceChildren();
        link.setAttribute("aria-expanded", "false");
        link.textContent = "Preview";
        return;
      }
      link.setAttribute("aria-busy", "true");
      fetch(link.dataset.preview, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          // A refusal (403) or a source that cannot be read (409) comes as a fragment with its reason.
          if (!response.ok && response.status !== 403 && response.status !== 400 && response.status !== 409) {
            throw new Error("status " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          var fragment = new DOMParser().parseFromString(html, "text/html");
          target.replaceChildren.apply(target, Array.from(fragment.body.childNodes));
          link.setAttribute("aria-expanded", "true");
          link.textContent = "Hide preview";
        })
        .catch(function () {
          window.location.href = link.href;
        })
        .finally(function () {
          link.removeAttribute("aria-busy");
        });
    });
  });
})();
