// The policy editor on the cluster page: open a policy from the list or the graph, edit its
// YAML in CodeMirror with the server's diagnostics while typing, preview what saving would
// change in connectivity (listed here and highlighted on the graph), save it as a new revision
// without overwriting anyone else's change, start policies from templates or from a flow to
// allow, delete one, export.
//
// The server decides everything (validity, impact, conflicts); this module sends the text and
// shows the answers. Text from manifests and from other people reaches the DOM only through
// textContent. cluster.js mounts it with the graph's API (see graph.js), which is all it knows
// of the graph.

import { completeNetworkPolicy } from "./completion.js";
import { el } from "./dom.js";
import { reason, request, withQuery } from "./http.js";
import { impactRowNodes, impactSummaryNodes, impactTotal, whyNodes } from "./impact.js";

// --- the editor ----------------------------------------------------------------------------------

/**
 * Mounts the editor on its panel (`[data-editor-root]`). `CM` is the CodeMirror bundle, `htmx`
 * htmx, `graph` the API mountGraph returned. Returns the editor's API: `open(id)` a policy,
 * `openNew(yaml)`, `allowFlow(src, dst, conn)`, `close()`, `save()`, `state()` and the
 * CodeMirror `view`.
 */
export function mountEditor(root, { CM, htmx, graph }) {
  const $ = (selector) => root.querySelector(selector);
  const urls = {
    check: root.dataset.checkUrl,
    save: root.dataset.saveUrl,
    remove: root.dataset.deleteUrl,
    policy: root.dataset.policyUrl,
    template: root.dataset.templateUrl,
    allowFlow: root.dataset.allowFlowUrl,
    exportYaml: root.dataset.exportUrl,
    list: root.dataset.listUrl,
  };
  const pageRevision = Number(root.dataset.revision);
  const onHead = root.dataset.onHead === "true";
  const mayEdit = root.dataset.canEdit === "true";
  const workspace = root.closest(".graph-workspace");

  const pane = $("[data-editor-pane]");
  const titleEl = $("[data-editor-title]");
  const eyebrow = $("[data-editor-eyebrow]");
  const statusEl = $("[data-editor-status]");
  const panelStatus = el("p", "panel-status");
  panelStatus.setAttribute("role", "status");
  panelStatus.hidden = true;
  pane.after(panelStatus);
  const diagList = $("[data-testid=diagnostics]");
  const impactEl = $("[data-testid=impact]");
  const impactSummary = $("[data-impact-summary]");
  const impactRows = $("[data-impact-rows]");
  const saveForm = $("[data-save-form]");
  const messageInput = saveForm && saveForm.elements.message;
  const saveButton = saveForm && saveForm.querySelector("button[type=submit]");
  const deleteButton = $("[data-editor-action=delete]");
  const guardEl = $("[data-editor-guard]");
  const deleteEl = $("[data-delete-confirm]");
  const conflictEl = $("[data-testid=conflict]");

  // What is open. `loaded` is the text as stored in revision `base` ("" for a new policy):
  // saving sends `base` so that the server refuses to overwrite a change made since.
  const ed = {
    open: false,
    original: "", // "ns/name" as opened, "" for a new policy
    loaded: "",
    opened: "", // the text as it was put in the editor (a template's, say)
    base: pageRevision,
    known: pageRevision, // the newest revision this page has heard of
    canEdit: mayEdit,
    policies: [], // the policies in the text, from the last valid check
    check: null, // the last check's answer for the text in the editor
    deleting: false,
    conflict: null,
    busy: false,
  };

  // --- CodeMirror --------------------------------------------------------------------------------

  // The bundle styles CodeMirror through constructed stylesheets, which come after the page's
  // stylesheets: restyle it here, not in css/editor.css. The colours are css/variables.css's.
  const theme = CM.EditorView.theme({
    "&": {
      height: "100%",
      fontSize: "12.5px",
      backgroundColor: "var(--surface)",
      color: "var(--text)",
    },
    "&.cm-focused": { outline: "none" },
    ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.55" },
    ".cm-content": { padding: "6px 0" },
    ".cm-gutters": {
      backgroundColor: "var(--bg)",
      color: "#7a8696",
      borderRight: "1px solid var(--border)",
    },
    ".cm-activeLine": { backgroundColor: "#f3f7ff" },
    ".cm-activeLineGutter": { backgroundColor: "var(--accent-soft)", color: "var(--text)" },
    ".cm-selectionMatch": { backgroundColor: "#fff1c2" },
    ".cm-lintRange-error": { backgroundColor: "var(--danger-soft)" },
    ".cm-lintRange-warning": { backgroundColor: "var(--warn-soft)" },
    ".cm-tooltip": {
      fontSize: "12.5px",
      border: "1px solid var(--border-strong)",
      borderRadius: "6px",
    },
    ".cm-tooltip-lint": { maxWidth: "28rem" },
    ".cm-tooltip-autocomplete > ul > li[aria-selected]": {
      backgroundColor: "var(--accent)",
      color: "#ffffff",
    },
  });
  const readOnlyTheme = CM.EditorView.theme({
    "&": { backgroundColor: "#fafbfc" },
    ".cm-activeLine": { backgroundColor: "transparent" },
  });

  // Typing over a selection that spans lines is left to the browser's own editing, which
  // merges the lines' elements and adds inline styles, which the CSP refuses (one violation
  // report per keystroke). CodeMirror makes the same change itself here instead.
  const typeOverLines = CM.EditorView.domEventHandlers({
    beforeinput(event, editor) {
      if (event.inputType !== "insertText" || event.data == null) return false;
      const { state } = editor;
      const spansLines = state.selection.ranges.some(
        (r) => state.doc.lineAt(r.from).number !== state.doc.lineAt(r.to).number,
      );
      if (!spansLines) return false;
      event.preventDefault();
      editor.dispatch(state.replaceSelection(event.data), {
        scrollIntoView: true,
        userEvent: "input.type",
      });
      return true;
    },
  });

  function extensions() {
    return [
      CM.Prec.high(
        CM.keymap.of([
          {
            key: "Mod-s",
            preventDefault: true,
            run: () => {
              save();
              return true;
            },
          },
        ]),
      ),
      CM.basicSetup,
      CM.keymap.of([CM.indentWithTab]),
      CM.yaml(),
      CM.indentUnit.of("  "),
      CM.EditorState.tabSize.of(2),
      CM.lintGutter(),
      CM.EditorState.languageData.of(() => [{ autocomplete: completeNetworkPolicy }]),
      CM.EditorState.readOnly.of(!ed.canEdit),
      theme,
      ed.canEdit ? [] : readOnlyTheme,
      CM.EditorView.contentAttributes.of({ "aria-label": "Policy YAML" }),
      typeOverLines,
      CM.EditorView.updateListener.of((update) => {
        if (update.docChanged) edited();
      }),
    ];
  }

  const view = new CM.EditorView({
    parent: $("[data-testid=policy-editor]"),
    state: CM.EditorState.create({ doc: "", extensions: extensions() }),
  });

  function text() {
    return view.state.doc.toString();
  }

  function goToLine(number) {
    const { doc } = view.state;
    const line = doc.line(Math.min(Math.max(number || 1, 1), doc.lines));
    view.dispatch({ selection: { anchor: line.from }, scrollIntoView: true });
    view.focus();
  }

  // --- state shown around the editor -------------------------------------------------------------

  function isChanged() {
    return text() !== ed.loaded;
  }

  function hasUnsavedEdits() {
    // A template or a suggestion nobody touched is not work to lose: it can be made again.
    return ed.open && ed.canEdit && isChanged() && text() !== ed.opened;
  }

  function setStatus(message, tone = "") {
    delete statusEl.dataset.fromText;
    statusEl.textContent = message;
    statusEl.dataset.tone = tone;
    statusEl.hidden = !message;
  }

  function setPanelStatus(message, tone = "") {
    panelStatus.textContent = message;
    panelStatus.dataset.tone = tone;
    panelStatus.hidden = !message;
  }

  function refreshChrome() {
    const names = ed.policies.length ? ed.policies : ed.original ? [ed.original] : [];
    if (!ed.original) {
      titleEl.textContent = names.length ? `New: ${names.join(", ")}` : "New policy";
    } else if (names.length && names[0] !== ed.original) {
      titleEl.textContent = `${ed.original} → ${names.join(", ")}`;
    } else {
      titleEl.textContent = names.join(", ") || ed.original;
    }
    const parts = [ed.canEdit ? "Editing" : "Viewing", `revision ${ed.base}`];
    if (!ed.original) parts.push("not saved yet");
    else if (ed.canEdit && isChanged()) parts.push("unsaved changes");
    eyebrow.textContent = parts.join(" · ");
    if (saveButton) saveButton.disabled = ed.busy || !isChanged() || !text().trim();
    if (deleteButton) deleteButton.hidden = !(ed.canEdit && ed.original && ed.loaded);
  }

  // Links that name the open policy: "This policy" in Export, the current one in the list.
  function refreshLinks() {
    markCurrent();
    const id = ed.open && ed.original && ed.loaded ? ed.original : "";
    const href = id
      ? withQuery(urls.exportYaml, { policy: id, revision: onHead ? "" : pageRevision })
      : urls.exportYaml;
    for (const link of document.querySelectorAll("[data-export-policy]")) {
      link.href = href;
      (link.closest("[data-export-policy-item]") || link).hidden = !id;
    }
    for (const name of document.querySelectorAll("[data-export-policy-name]")) {
      name.textContent = id;
    }
  }

  function markCurrent() {
    for (const link of document.querySelectorAll("#policy-index a[data-policy]")) {
      if (ed.open && link.dataset.policy === ed.original) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
  }

  // --- diagnostics -------------------------------------------------------------------------------

  // The path, unless the message already starts with it (the linter's often do).
  function pathOf(d) {
    return d.path && !d.message.startsWith(d.path) ? d.path : "";
  }

  function showDiagnostics(diagnostics) {
    const { doc } = view.state;
    const marks = diagnostics.map((d) => {
      const line = doc.line(Math.min(Math.max(d.line || 1, 1), doc.lines));
      return {
        from: line.from,
        to: line.to,
        severity: d.severity === "warning" ? "warning" : "error",
        message: pathOf(d) ? `${d.path}: ${d.message}` : d.message,
      };
    });
    view.dispatch(CM.setDiagnostics(view.state, marks));
    diagList.replaceChildren(
      ...diagnostics.map((d) => {
        const severity = d.severity === "warning" ? "warning" : "error";
        const item = el("li", `diag ${severity}`);
        const button = el("button", "diag-button");
        button.type = "button";
        // A YAML error at the end of the text is reported a line past it: the last line.
        const line = Math.min(d.line || 1, doc.lines);
        const where = !d.line ? "—" : d.line > doc.lines ? `line ${line} (end)` : `line ${line}`;
        button.dataset.line = String(line);
        button.title = "Show this line in the editor";
        button.append(
          el("span", "diag-severity", severity),
          el("span", "diag-line", where),
          el("span", "diag-text"),
        );
        const body = button.lastChild;
        if (pathOf(d)) body.append(el("span", "diag-path", d.path), " ");
        body.append(el("span", "diag-message", d.message));
        item.append(button);
        return item;
      }),
    );
    diagList.hidden = diagnostics.length === 0;
  }

  diagList.addEventListener("click", (e) => {
    const button = e.target.closest("[data-line]");
    if (button) goToLine(Number(button.dataset.line));
  });

  // --- the impact preview ------------------------------------------------------------------------

  function impactMessage(message) {
    graph.clearHighlight();
    impactEl.classList.remove("stale");
    impactSummary.replaceChildren(el("span", "muted", message));
    impactRows.replaceChildren();
  }

  function showImpact(impact, lead, why = []) {
    impactEl.classList.remove("stale");
    if (impactTotal(impact) === 0) {
      impactMessage(`${lead} change no flow.`);
      if (why.length) {
        // The one-sided gotcha: a rule names the peer, but the peer's own side still denies.
        impactSummary.append(el("span", "impact-note", "The other side still denies:"));
        impactRows.replaceChildren(...whyNodes(why));
      }
      return;
    }
    impactSummary.replaceChildren(...impactSummaryNodes(impact, lead));
    impactRows.replaceChildren(...impactRowNodes(impact));
    const shown = graph.highlight(impact);
    if (shown.missing.length) {
      impactSummary.append(
        el("span", "impact-note", `${shown.missing.length} not in the graph's current view`),
      );
    }
  }

  impactRows.addEventListener("click", (e) => {
    const allow = e.target.closest("[data-allow-src]");
    if (allow) {
      allowFlow(allow.dataset.allowSrc, allow.dataset.allowDst, "");
      return;
    }
    const button = e.target.closest("[data-src]");
    if (!button) return;
    const { src, dst, kind } = button.dataset;
    graph.showHighlighted(kind, src, dst);
  });

  // --- checking while typing ---------------------------------------------------------------------

  let checkTimer = 0;
  let checkSeq = 0;
  let checkAbort = null;

  function edited() {
    cancelCheck(); // the answer for the previous text no longer matters
    ed.check = null;
    impactEl.classList.add("stale");
    refreshChrome();
    checkTimer = setTimeout(check, 300);
  }

  function cancelCheck() {
    clearTimeout(checkTimer);
    checkSeq += 1;
    if (checkAbort) checkAbort.abort();
    checkAbort = null;
  }

  async function check() {
    cancelCheck();
    const seq = checkSeq;
    const yaml = text();
    if (!yaml.trim()) {
      showDiagnostics([]);
      impactMessage("The editor is empty.");
      return;
    }
    checkAbort = new AbortController();
    let answer;
    try {
      answer = await request(urls.check, {
        fields: { yaml, revision: ed.base, original: ed.original },
        signal: checkAbort.signal,
      });
    } catch {
      return; // aborted: a newer text is on its way
    }
    // A newer keystroke (or another policy) superseded this text: its answer is stale.
    if (seq !== checkSeq || yaml !== text()) return;
    if (!answer.ok || !answer.body) {
      setStatus(`Could not check the YAML: ${reason(answer)}.`, "error");
      return;
    }
    if (statusEl.textContent.startsWith("Could not check")) setStatus("");
    applyCheck(answer.body);
  }

  function applyCheck(result) {
    ed.check = result;
    if (result.valid && statusEl.dataset.fromText) {
      // The save failed on an error of the text, which is fixed now: its message goes too.
      delete statusEl.dataset.fromText;
      setStatus("");
    }
    if (result.valid) ed.policies = result.policies;
    showDiagnostics(result.diagnostics);
    refreshChrome();
    if (ed.deleting) return; // the delete preview has the impact panel
    showCheckImpact();
  }

  function showCheckImpact() {
    const result = ed.check;
    if (!result) return;
    if (!result.valid) {
      const errors = result.diagnostics.filter((d) => d.severity !== "warning").length;
      impactMessage(
        `Fix the ${errors > 1 ? `${errors} errors` : "error"} to see what this would change.`,
      );
    } else if (!ed.canEdit && !isChanged()) {
      impactMessage("Read-only: nothing to preview.");
    } else if (!isChanged()) {
      impactMessage("No change yet: what an edit would change shows here, and on the graph.");
    } else {
      showImpact(result.impact, ed.canEdit ? "Saving would" : "This would", result.why || []);
    }
  }

  // --- opening, closing --------------------------------------------------------------------------

  let pendingAction = null;

  // Runs `action` now, or after the user agrees to drop their unsaved edits.
  function guard(what, action) {
    if (!hasUnsavedEdits()) {
      guardEl.hidden = true;
      return action();
    }
    pendingAction = action;
    $("[data-guard-text]").textContent =
      `Your changes to ${titleEl.textContent} are not saved. Discard them and ${what}?`;
    guardEl.hidden = false;
    return undefined;
  }

  function setWide(wide) {
    if (!workspace || workspace.classList.contains("editing") === wide) return;
    workspace.classList.toggle("editing", wide);
    graph.resize();
  }

  function openText(yaml, { original = "", base = ed.known, loaded = "" } = {}) {
    cancelCheck();
    Object.assign(ed, {
      open: true,
      original,
      loaded,
      opened: yaml,
      base,
      policies: original ? [original] : [],
      check: null,
      deleting: false,
      conflict: null,
    });
    for (const alert of [guardEl, deleteEl, conflictEl]) alert.hidden = true;
    setStatus("");
    setPanelStatus("");
    view.setState(CM.EditorState.create({ doc: yaml, extensions: extensions() }));
    showDiagnostics([]);
    impactMessage("Checking…");
    const fallback = root.querySelector("[data-policy-view]");
    if (fallback) fallback.hidden = true;
    pane.hidden = false;
    graph.showSideTab("policies");
    setWide(true);
    // Opened from far down the list: bring the editor into view.
    const scroller = root.closest(".side-panel");
    if (scroller) scroller.scrollTop = 0;
    refreshChrome();
    refreshLinks();
    graph.setPolicyInUrl(original);
    check();
  }

  let openSeq = 0;

  // `line`: put the cursor on that line of the policy's text (a warning's, say) and show it.
  function openPolicy(id, { line = 0 } = {}) {
    graph.showSideTab("policies");
    return guard(`open ${id}`, async () => {
      const mine = ++openSeq;
      setPanelStatus(`Opening ${id}…`);
      const answer = await request(
        withQuery(urls.policy, { policy: id, revision: onHead ? "" : pageRevision }),
      );
      if (mine !== openSeq) return; // another policy was asked for meanwhile
      if (!answer.ok || !answer.body) {
        const where = onHead ? "the latest revision" : `revision ${pageRevision}`;
        setPanelStatus(
          answer.status === 404
            ? `There is no policy ${id} in ${where}.`
            : `Could not open ${id}: ${reason(answer)}.`,
          "error",
        );
        return;
      }
      const data = answer.body;
      ed.canEdit = mayEdit && data.can_edit;
      const newer = data.revision > ed.known;
      ed.known = Math.max(ed.known, data.revision);
      openText(data.yaml, { original: data.policy, base: data.revision, loaded: data.yaml });
      if (line) {
        goToLine(line);
        view.dom.scrollIntoView({ block: "nearest" }); // opened from the warnings, below
      }
      if (newer) revisionChanged();
    });
  }

  function openNew(yaml) {
    ed.canEdit = mayEdit;
    openText(yaml, { original: "", base: ed.known, loaded: "" });
  }

  function closeNow() {
    cancelCheck();
    Object.assign(ed, { open: false, original: "", deleting: false, conflict: null });
    pane.hidden = true;
    graph.clearHighlight();
    setWide(false);
    view.setState(CM.EditorState.create({ doc: "", extensions: extensions() }));
    graph.setPolicyInUrl("");
    refreshChrome();
    refreshLinks();
  }

  function close() {
    guard("close the editor", closeNow);
  }

  // A new revision exists: redraw the graph and the list (and the page's counts and history).
  function revisionChanged() {
    graph.clearHighlight();
    graph.reload();
    if (onHead) {
      htmx
        .ajax("GET", urls.list, { target: "#policy-index", swap: "outerHTML" })
        .then(refreshLinks, () => setPanelStatus("Could not refresh the policy list.", "error"));
    }
  }

  // --- saving ------------------------------------------------------------------------------------

  function setBusy(busy) {
    ed.busy = busy;
    for (const button of pane.querySelectorAll("button")) {
      if (button.dataset.editorAction !== "close") button.disabled = busy;
    }
    refreshChrome();
  }

  async function save({ base = ed.base } = {}) {
    if (!ed.open || !ed.canEdit || ed.busy || !saveForm) return;
    const yaml = text();
    setBusy(true);
    setStatus("Saving…");
    const answer = await request(urls.save, {
      fields: { yaml, base_revision: base, original: ed.original, message: messageInput.value },
    });
    setBusy(false);
    const body = answer.body || {};
    if (answer.ok) {
      saved(yaml, body);
    } else if (answer.status === 409 && body.conflict) {
      showConflict(body.conflict, "save");
    } else if (answer.status === 400 && body.errors) {
      showDiagnostics(body.errors.map((e) => ({ ...e, severity: "error" })));
      setStatus(`Not saved: ${body.errors[0].message}`, "error");
      statusEl.dataset.fromText = "true"; // goes once the text is fixed
    } else if (answer.status === 403) {
      setStatus("Not saved: you may view this cluster, not edit it.", "error");
    } else {
      setStatus(`Not saved: ${reason(answer)}. Your text is still here.`, "error");
    }
  }

  function saved(yaml, { revision, summary }) {
    ed.base = revision;
    ed.known = Math.max(ed.known, revision);
    ed.loaded = yaml;
    ed.opened = yaml;
    if (ed.policies.length) ed.original = ed.policies[0];
    ed.conflict = null;
    conflictEl.hidden = true;
    messageInput.value = "";
    setStatus(`Saved as revision ${revision} (${summary}).`, "ok");
    graph.setPolicyInUrl(ed.original);
    revisionChanged();
    refreshChrome();
    refreshLinks();
    check();
  }

  if (saveForm) {
    saveForm.addEventListener("submit", (e) => {
      e.preventDefault();
      save();
    });
  }

  // --- conflicts ---------------------------------------------------------------------------------

  function showConflict(conflict, action) {
    ed.conflict = { ...conflict, action };
    const fill = (name, value) => {
      for (const node of conflictEl.querySelectorAll(`[data-conflict-${name}]`)) {
        node.textContent = value;
      }
    };
    fill("policy", conflict.policy);
    fill("author", conflict.author || "Someone");
    fill("head", String(conflict.head_revision));
    fill("base", String(conflict.base_revision));
    fill("message", conflict.message);
    conflictEl.querySelector("[data-conflict-message-wrap]").hidden = !conflict.message;
    const diff = conflictEl.querySelector("[data-conflict-diff]");
    const lines = (conflict.diff || (conflict.theirs ? "" : "They deleted it.\n")).split("\n");
    diff.replaceChildren(
      ...lines.map((line) => {
        const tone = line.startsWith("@@")
          ? "hunk"
          : line.startsWith("+")
            ? "add"
            : line.startsWith("-")
              ? "del"
              : "";
        return el("span", `diff-line ${tone}`.trim(), `${line}\n`);
      }),
    );
    conflictEl.querySelector("[data-conflict-overwrite]").textContent =
      action === "delete" ? "Delete it anyway" : "Keep mine (overwrite)";
    conflictEl.hidden = false;
    setStatus(
      action === "delete"
        ? "Not deleted: the policy changed since you opened it."
        : "Not saved: someone else changed this policy. Nothing was overwritten.",
      "error",
    );
    conflictEl.scrollIntoView({ block: "nearest" });
  }

  function loadTheirs() {
    const conflict = ed.conflict;
    if (!conflict) return;
    ed.known = Math.max(ed.known, conflict.head_revision);
    if (conflict.theirs) {
      openText(conflict.theirs, {
        original: conflict.policy,
        base: conflict.head_revision,
        loaded: conflict.theirs,
      });
      setStatus(`Loaded their version (revision ${conflict.head_revision}).`, "ok");
    } else {
      // They deleted it: what is in the editor can only come back as a new policy.
      openText(text(), { original: "", base: conflict.head_revision, loaded: "" });
      setStatus("They deleted it; save to create it again.", "ok");
    }
    revisionChanged();
  }

  function overwrite() {
    const conflict = ed.conflict;
    if (!conflict) return;
    conflictEl.hidden = true;
    // Based on their revision, the server takes the text as a deliberate change on top of it.
    if (conflict.action === "delete") confirmDelete({ base: conflict.head_revision });
    else save({ base: conflict.head_revision });
  }

  // --- deleting ----------------------------------------------------------------------------------

  async function previewDelete() {
    if (!ed.original || !ed.canEdit) return;
    ed.deleting = true;
    deleteEl.querySelector("[data-delete-name]").textContent = ed.original;
    deleteEl.hidden = false;
    impactMessage("Working out what deleting it would change…");
    const answer = await request(urls.remove, { fields: { policy: ed.original } });
    if (!ed.deleting) return;
    if (answer.ok && answer.body) showImpact(answer.body.impact, "Deleting it would");
    else impactMessage(`Could not preview the deletion: ${reason(answer)}.`);
  }

  function cancelDelete() {
    ed.deleting = false;
    deleteEl.hidden = true;
    if (ed.check) showCheckImpact();
    else check();
  }

  async function confirmDelete({ base = ed.base } = {}) {
    const name = ed.original;
    setBusy(true);
    const answer = await request(urls.remove, {
      fields: { policy: name, confirm: "yes", base_revision: base },
    });
    setBusy(false);
    const body = answer.body || {};
    if (answer.ok) {
      ed.known = Math.max(ed.known, body.revision);
      closeNow();
      setPanelStatus(`Deleted ${name}: revision ${body.revision}.`, "ok");
      revisionChanged();
    } else if (answer.status === 409 && body.conflict) {
      deleteEl.hidden = true;
      ed.deleting = false;
      showConflict(body.conflict, "delete");
    } else {
      setStatus(`Not deleted: ${reason(answer)}.`, "error");
    }
  }

  // --- new policies: templates and "allow this flow" ---------------------------------------------

  const newForm = root.querySelector("[data-new-policy-form]");
  if (newForm) {
    const template = newForm.elements.template;
    const showFields = () => {
      const option = template.selectedOptions[0];
      const fields = option ? option.dataset.fields.split(" ") : [];
      for (const node of newForm.querySelectorAll("[data-field]")) {
        node.hidden = !fields.includes(node.dataset.field);
      }
    };
    template.addEventListener("change", showFields);
    showFields();
    newForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const fields = template.selectedOptions[0].dataset.fields.split(" ");
      const params = { template: template.value, namespace: newForm.elements.namespace.value };
      if (fields.includes("peer")) params.peer = newForm.elements.peer.value;
      if (fields.includes("port")) params.port = newForm.elements.port.value;
      guard("start a new policy", async () => {
        const answer = await request(withQuery(urls.template, params));
        if (!answer.ok || !answer.body) {
          setPanelStatus(`No template: ${reason(answer)}.`, "error");
          return;
        }
        newForm.closest("details").open = false;
        openNew(answer.body.yaml);
      });
    });
  }

  const allowForm = root.querySelector("[data-allow-flow-form]");

  function allowFlow(src, dst, conn) {
    return guard("write a policy for this flow", async () => {
      setPanelStatus(`Writing the policies that allow ${src} → ${dst}…`);
      const answer = await request(withQuery(urls.allowFlow, { src, dst, conn }));
      const body = answer.body || {};
      if (!answer.ok) {
        setPanelStatus(`Cannot allow ${src} → ${dst}: ${reason(answer)}.`, "error");
        return;
      }
      // A cluster tier that denies the flow: the note names its rule (and the tier policy
      // offered instead of a NetworkPolicy, which could not help there).
      const blocked = (body.blocked || []).length > 0;
      if (!body.yaml) {
        setPanelStatus(`${src} → ${dst}: ${body.note}`, blocked ? "error" : "ok");
        return;
      }
      if (allowForm) allowForm.closest("details").open = false;
      openNew(body.yaml);
      if (body.impact) showImpact(body.impact, "Saving would"); // the check confirms it soon
      if (blocked) setPanelStatus(body.note, "error");
    });
  }

  if (allowForm) {
    allowForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const f = allowForm.elements;
      allowFlow(f.src.value.trim(), f.dst.value.trim(), f.conn.value.trim());
    });
    // Opening the form takes the pair from the inspector's question, if it has one.
    allowForm.closest("details").addEventListener("toggle", (e) => {
      if (!e.target.open) return;
      for (const [mine, theirs] of [
        ["src", "ask-src"],
        ["dst", "ask-dst"],
        ["conn", "ask-port"],
      ]) {
        const source = document.getElementById(theirs);
        if (source && source.value && !allowForm.elements[mine].value) {
          allowForm.elements[mine].value = source.value;
        }
      }
    });
  }

  // --- wiring ------------------------------------------------------------------------------------

  const actions = {
    close,
    delete: previewDelete,
    "delete-cancel": cancelDelete,
    "delete-confirm": () => confirmDelete(),
    "load-theirs": loadTheirs,
    overwrite,
    "guard-discard": () => {
      guardEl.hidden = true;
      const action = pendingAction;
      pendingAction = null;
      if (action) action();
    },
    "guard-keep": () => {
      guardEl.hidden = true;
      pendingAction = null;
      graph.setPolicyInUrl(ed.original); // a policy link may have put another in the URL
      view.focus();
    },
  };

  root.addEventListener("click", (e) => {
    const button = e.target.closest("[data-editor-action]");
    if (button && actions[button.dataset.editorAction]) {
      e.preventDefault();
      actions[button.dataset.editorAction]();
    }
  });

  // "Allow this flow…" on a denied flow in the inspector.
  document.addEventListener("click", (e) => {
    const button = e.target.closest("[data-allow-flow]");
    if (!button) return;
    e.preventDefault();
    const { src, dst, port } = button.dataset;
    if (allowForm) {
      allowForm.elements.src.value = src;
      allowForm.elements.dst.value = dst;
      allowForm.elements.conn.value = port || "";
    }
    graph.showSideTab("policies");
    allowFlow(src, dst, port || "");
  });

  window.addEventListener("beforeunload", (e) => {
    if (hasUnsavedEdits()) e.preventDefault();
  });

  refreshChrome();
  refreshLinks();
  return {
    view,
    open: openPolicy,
    openNew,
    allowFlow,
    close,
    save,
    state: () => ({ ...ed, text: text() }),
  };
}
