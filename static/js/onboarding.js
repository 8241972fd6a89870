// The demo's short first tour: a step at a time over the graph, until the user dismisses it,
// which is remembered in the browser (localStorage) for good.

const KEY = "netviz:onboarding";

/** Shows the tour in `root` (`[data-onboarding]`), unless it was dismissed before. */
export function mountOnboarding(root) {
  if (!root) return;
  let remembered = null;
  try {
    remembered = window.localStorage.getItem(KEY);
  } catch {
    remembered = null; // storage refused: the tour shows, and its dismissal lasts the page
  }
  if (remembered === "dismissed") {
    root.remove();
    return;
  }
  const steps = Array.from(root.querySelectorAll("[data-step]"));
  const back = root.querySelector("[data-onboarding-back]");
  const next = root.querySelector("[data-onboarding-next]");
  const count = root.querySelector("[data-onboarding-count]");
  let at = 0;

  function show() {
    steps.forEach((step, i) => {
      step.hidden = i !== at;
    });
    back.disabled = at === 0;
    next.textContent = at === steps.length - 1 ? "Done" : "Next";
    count.textContent = `${at + 1} of ${steps.length}`;
  }

  function dismiss() {
    try {
      window.localStorage.setItem(KEY, "dismissed");
    } catch {
      // nothing to remember it in
    }
    root.remove();
  }

  back.addEventListener("click", () => {
    at = Math.max(at - 1, 0);
    show();
  });
  next.addEventListener("click", () => {
    if (at === steps.length - 1) dismiss();
    else {
      at += 1;
      show();
    }
  });
  root.querySelector("[data-onboarding-dismiss]").addEventListener("click", dismiss);
  root.hidden = false;
  show();
}
