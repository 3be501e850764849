// The quality settings page's small enhancements; the page works without this file.
// * A new webhook's secret selects itself on focus, and a "Copy" button copies it to the clipboard.
(function () {
  "use strict";

  document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
    input.addEventListener("focus", function () {
      input.select();
    });
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.value).then(
        function () {
          button.textContent = "Copied";
        },
        function () {
          source.focus();
          button.textContent = "Press Ctrl+C to copy";
        }
      );
    });
  });
})();
