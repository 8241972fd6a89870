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

// A folder's files keep their path inside it (`shop/catalog/deployment.yaml`): the browser
// knows it (webkitRelativePath, or the dropped entry's fullPath) but sends only the base name
// with the file, so each path goes along as a hidden `folder_paths` value, in file order.
const folderPaths = new WeakMap();

function pathOf(file) {
  return folderPaths.get(file) || file.webkitRelativePath || file.name;
}

function writeFolderPaths(form) {
  const input = form.querySelector("[data-upload-folder]");
  const box = form.querySelector("[data-folder-paths]");
  if (!input || !box) return;
  box.replaceChildren(
    ...Array.from(input.files, (file) => {
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "folder_paths";
      hidden.value = pathOf(file);
      return hidden;
    }),
  );
}

function listItem(label, bytes) {
  const item = el("li"); // el() sets text: a file name is never HTML
  item.append(el("span", "", label), el("span", "", formatSize(bytes)));
  return item;
}

function showFiles(form) {
  const input = form.querySelector("[data-upload-input]");
  const folder = form.querySelector("[data-upload-folder]");
  const list = form.querySelector("[data-file-list]");
  if (!list) return;
  const items = [];
  if (input) items.push(...Array.from(input.files, (f) => listItem(f.name, f.size)));
  if (folder) items.push(...Array.from(folder.files, (f) => listItem(pathOf(f), f.size)));
  list.replaceChildren(...items);
  writeFolderPaths(form);
}

// Dropped files are added to those already chosen: a DataTransfer is the only way to build
// the FileList an <input type=file> holds.
function addFiles(input, files) {
  const merged = new DataTransfer();
  for (const file of input.files) merged.items.add(file);
  for (const file of files) merged.items.add(file);
  input.files = merged.files;
}

// A dropped folder arrives as a directory entry: walk it for its files and their paths.
function readEntries(reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function filesOf(entry) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    folderPaths.set(file, entry.fullPath.replace(/^\//, ""));
    return [file];
  }
  const reader = entry.createReader();
  const found = [];
  // readEntries answers in batches until it answers with none.
  for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader)) {
    for (const child of batch) found.push(...(await filesOf(child)));
  }
  return found;
}

async function dropped(form, transfer) {
  const entries = Array.from(transfer.items || [], (item) =>
    item.webkitGetAsEntry ? item.webkitGetAsEntry() : null,
  );
  const files = Array.from(transfer.files); // empty once the drop event is over
  const plain = [];
  const inFolders = [];
  for (const [i, entry] of entries.entries()) {
    if (entry && entry.isDirectory) inFolders.push(...(await filesOf(entry)));
    else if (files[i]) plain.push(files[i]);
  }
  if (!entries.length) plain.push(...files);
  const input = form.querySelector("[data-upload-input]");
  const folder = form.querySelector("[data-upload-folder]");
  if (input && plain.length) addFiles(input, plain);
  if (folder && inFolders.length) addFiles(folder, inFolders);
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
  // The entries must be taken before the event returns; walking them may take longer.
  dropped(form, event.dataTransfer);
});

document.addEventListener("change", (event) => {
  const form = event.target.closest(FORM);
  if (form && event.target.matches("[data-upload-input], [data-upload-folder]")) showFiles(form);
});

// When the server answers with the form again (errors, a kustomization to choose, what a
// replace would drop), the chosen files stay chosen: the user answers and sends again.
let kept = null;

document.addEventListener("htmx:beforeSwap", (event) => {
  const form = event.target.closest ? event.target.closest(FORM) : null;
  if (!form) return;
  const input = form.querySelector("[data-upload-input]");
  const folder = form.querySelector("[data-upload-folder]");
  kept = { files: input ? input.files : null, folder: folder ? folder.files : null };
});

document.addEventListener("htmx:afterSwap", () => {
  const form = uploadForm();
  if (!form || !kept) return;
  const input = form.querySelector("[data-upload-input]");
  const folder = form.querySelector("[data-upload-folder]");
  if (input && kept.files) input.files = kept.files;
  if (folder && kept.folder) folder.files = kept.folder;
  kept = null;
  showFiles(form);
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
