// Drop-down menus (`<details data-menu>`, the Export menu): close on a choice, a click
// elsewhere, or Escape. A <details> alone stays open until its summary is clicked again.

/** Installs the listeners for every menu on the page, present and future. */
export function mountMenus() {
  const openMenus = () => document.querySelectorAll("details[data-menu][open]");
  document.addEventListener("click", (e) => {
    for (const menu of openMenus()) {
      if (!menu.contains(e.target) || e.target.closest("a")) menu.open = false;
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    for (const menu of openMenus()) menu.open = false;
  });
}
