// Upload page behaviour: drag and drop onto the page, the list of chosen files, and a
// progress bar while htmx sends the form. Without JavaScript the form still posts normally.
// Listeners sit on the document because htmx replaces the form when it shows errors. The upload
// page loads this module, and cluster.js imports it for the cluster page's upload card.

import { el } from "./dom.js";

const FORM = "[data-upload-form]";

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function uploadForm() {
  return document.querySelector(FORM);
}

function showFiles(form) {
  const input = form.querySelector("[data-upload-input]");
  const list = form.querySelector("[data-file-list]");
  if (!input || !list) return;
  list.replaceChildren(
    ...Array.from(input.files, (file) => {
      const item = el("li");
      item.append(el("span", "", file.name), el("span", "", formatSize(file.size)));
      return item;
    }),
  );
}

// Dropped files are added to those already chosen: a DataTransfer is the only way to build
// the FileList an <input type=file> holds.
function addFiles(form, files) {
  const input = form.querySelector("[data-upload-input]");
  if (!input) return;
  const merged = new DataTransfer();
  for (const file of input.files) merged.items.add(file);
  for (const file of files) merged.items.add(file);
  input.files = merged.files;
  showFiles(form);
}

function setDragging(on) {
  const zone = document.querySelector(`${FORM} [data-dropzone]`);
  if (zone) zone.classList.toggle("dragging", on);
}

function carriesFiles(event) {
  return event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
}

document.addEventListener("dragover", (event) => {
  if (!carriesFiles(event) || !uploadForm()) return;
  event.preventDefault(); // allows dropping anywhere on the page
  event.dataTransfer.dropEffect = "copy";
  setDragging(true);
});

document.addEventListener("dragleave", (event) => {
  if (event.relatedTarget === null) setDragging(false);
});

document.addEventListener("drop", (event) => {
  const form = uploadForm();
  if (!carriesFiles(event) || !form) return;
  event.preventDefault();
  setDragging(false);
  addFiles(form, event.dataTransfer.files);
});

document.addEventListener("change", (event) => {
  const form = event.target.closest(FORM);
  if (form && event.target.matches("[data-upload-input]")) showFiles(form);
});

function progressOf(event) {
  const form = event.target.closest ? event.target.closest(FORM) : null;
  if (!form) return null;
  return {
    box: form.querySelector("[data-upload-progress]"),
    bar: form.querySelector("[data-upload-progress] progress"),
    status: form.querySelector("[data-upload-status]"),
  };
}

document.addEventListener("htmx:beforeRequest", (event) => {
  const p = progressOf(event);
  if (!p || !p.box) return;
  p.box.hidden = false;
  p.bar.value = 0;
  p.status.textContent = "Sending…";
});

document.addEventListener("htmx:xhr:progress", (event) => {
  const p = progressOf(event);
  if (!p || !p.bar) return;
  const { loaded, total, lengthComputable } = event.detail;
  if (lengthComputable && total > 0 && loaded < total) {
    p.bar.value = Math.round((loaded / total) * 100);
    p.status.textContent = `Sending… ${formatSize(loaded)} of ${formatSize(total)}`;
  } else {
    // Everything is sent; the server is parsing and analysing. An indeterminate bar says so.
    p.bar.removeAttribute("value");
    p.status.textContent = "Analysing…";
  }
});

document.addEventListener("htmx:afterRequest", (event) => {
  const p = progressOf(event);
  if (p && p.box && !event.detail.successful) {
    p.status.textContent = "The upload failed; please try again.";
  }
});
