// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Close open menus (<details class="menu">) on a click elsewhere or on Escape.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.menu"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeMenus(null);
  });

  // On a narrow screen the hub's filters start folded, so the products come first.
  var filters = document.querySelector("details.filters");
  if (filters && window.matchMedia("(max-width: 960px)").matches && !filters.dataset.active) {
    filters.removeAttribute("open");
  }
})();
