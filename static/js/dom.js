// Building DOM nodes. Text from manifests and from other people reaches the page only through
// textContent, never as HTML.

/** A new element with an optional class name and text. */
export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}
