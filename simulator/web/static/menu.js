// Profile menu (wide screens) and app menu (narrow screens) open the same account menu;
// times written as milliseconds are shown in the reader's locale.
(() => {
  "use strict";
  const menu = document.getElementById("account-menu");
  const toggles = document.querySelectorAll(".menu-toggle");
  const setOpen = (open) => {
    menu.hidden = !open;
    toggles.forEach((toggle) => toggle.setAttribute("aria-expanded", String(open)));
  };
  if (menu) {
    toggles.forEach((toggle) => toggle.addEventListener("click", (event) => {
      event.stopPropagation();
      setOpen(menu.hidden);
    }));
    document.addEventListener("click", (event) => { if (!menu.contains(event.target)) setOpen(false); });
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") setOpen(false); });
  }
  document.querySelectorAll("time[data-ms]").forEach((element) => {
    element.textContent = new Date(Number(element.dataset.ms)).toLocaleString();
  });
})();
