// The policy editor on the cluster page: open a policy from the list or the graph, edit its
// YAML in CodeMirror with the server's diagnostics while typing, preview what saving would
// change in connectivity (listed here and highlighted on the graph), save it as a new revision
// without overwriting anyone else's change, start policies from templates or from a flow to
// allow, delete one, export.
//
// The server decides everything (validity, impact, conflicts); this file sends the text and
// shows the answers. Text from manifests and from other people reaches the DOM only through
// textContent. It runs before graph.js (see cluster.html) so that it hears the netviz:policy
// event graph.js fires for a ?policy= in the URL, and uses window.netviz once graph.js is up.

const CM = window.CM;
const panel = document.querySelector("[data-editor-root]");
if (panel && CM) start(panel);

// --- NetworkPolicy completion --------------------------------------------------------------------

// Keys allowed under each key (list items take the keys of their list's key).
const KEYS = {
  "": ["apiVersion", "kind", "metadata", "spec"],
  metadata: ["name", "namespace", "labels", "annotations"],
  spec: ["podSelector", "policyTypes", "ingress", "egress"],
  ingress: ["from", "ports"],
  egress: ["to", "ports"],
  from: ["podSelector", "namespaceSelector", "ipBlock"],
  to: ["podSelector", "namespaceSelector", "ipBlock"],
  ipBlock: ["cidr", "except"],
  ports: ["protocol", "port", "endPort"],
  podSelector: ["matchLabels", "matchExpressions"],
  namespaceSelector: ["matchLabels", "matchExpressions"],
  matchExpressions: ["key", "operator", "values"],
};
const ALL_KEYS = [...new Set(Object.values(KEYS).flat())].sort();
// Under these the keys are the user's own (label names): nothing to suggest.
const FREE_KEYS = new Set(["labels", "annotations", "matchLabels"]);
// Keys whose value is a mapping or a list, written on the lines below.
const BLOCK_KEYS = new Set([
  "metadata", "spec", "labels", "annotations", "podSelector", "namespaceSelector", "ingress",
  "egress", "from", "to", "ports", "ipBlock", "except", "matchLabels", "matchExpressions",
  "values", "policyTypes",
]);
const VALUES = {
  apiVersion: ["networking.k8s.io/v1"],
  kind: ["NetworkPolicy"],
  policyTypes: ["Ingress", "Egress"],
  protocol: ["TCP", "UDP", "SCTP"],
  operator: ["In", "NotIn", "Exists", "DoesNotExist"],
};

// The column where a line's key starts: after its indentation and any "- " list markers.
function keyColumn(text) {
  return /^(\s*(?:-\s+)*)/.exec(text)[1].length;
}

// The key of the nearest line above that starts further left: the mapping this line is in.
function parentKey(doc, lineNumber, column) {
  for (let n = lineNumber - 1; n >= 1; n--) {
    const text = doc.line(n).text;
    const trimmed = text.trim();
    if (!trimmed || trimmed.startsWith("#") || trimmed === "---") continue;
    if (keyColumn(text) < column) {
      const key = /^\s*(?:-\s+)*([\w./-]+)\s*:/.exec(text);
      return key ? key[1] : null;
    }
  }
  return "";
}

function completeNetworkPolicy(context) {
  const { doc } = context.state;
  const line = doc.lineAt(context.pos);
  const before = line.text.slice(0, context.pos - line.from);
  const values = (list, word) => ({
    from: context.pos - word.length,
    options: list.map((label) => ({ label, type: "enum" })),
    validFor: /^[\w./-]*$/,
  });
  // A value after "key: ", or inside a flow list: "policyTypes: [Ingress, Eg".
  const scalar = /^\s*(?:-\s+)*([\w./-]+):\s+\[?(?:[\w-]+,\s*)*([\w./-]*)$/.exec(before);
  if (scalar) return VALUES[scalar[1]] ? values(VALUES[scalar[1]], scalar[2]) : null;
  const key = /^\s*(?:-\s+)*(\w*)$/.exec(before);
  if (!key || (!key[1] && !context.explicit)) return null;
  const parent = parentKey(doc, line.number, keyColumn(before));
  // An item of a list of values: "- Ingress" under policyTypes.
  if (/^\s*-\s+\w*$/.test(before) && VALUES[parent]) return values(VALUES[parent], key[1]);
  if (parent === null || FREE_KEYS.has(parent)) return null;
  const keys = KEYS[parent] || (parent === "" ? KEYS[""] : ALL_KEYS);
  return {
    from: context.pos - key[1].length,
    options: keys.map((label) => ({
      label,
      type: "property",
      apply: BLOCK_KEYS.has(label) ? `${label}:` : `${label}: `,
    })),
    validFor: /^\w*$/,
  };
}

// --- small helpers -------------------------------------------------------------------------------

function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function csrfToken() {
  // base.html puts the token in the body's hx-headers; the cookie is the fallback.
  try {
    const token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
    if (token) return token;
  } catch {
    // not JSON: fall through to the cookie
  }
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
}

function withQuery(url, params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== "" && value != null) q.set(key, value);
  }
  const text = q.toString();
  return text ? `${url}?${text}` : url;
}

// A JSON request; `fields` makes it a form POST with the CSRF token. Resolves with the status
// and the parsed body (status 0 when the server could not be reached); rejects only when
// aborted.
async function request(url, { fields = null, signal } = {}) {
  const init = { credentials: "same-origin", headers: { Accept: "application/json" }, signal };
  if (fields) {
    init.method = "POST";
    init.body = new URLSearchParams(fields);
    init.headers["X-CSRFToken"] = csrfToken();
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    return { status: 0, ok: false, body: null };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null; // an HTML error page
  }
  return { status: response.status, ok: response.ok, body };
}

// Why a request failed, in words: the server's first located error, or what happened.
function reason(answer) {
  const errors = answer.body && answer.body.errors;
  if (errors && errors.length) return errors[0].message;
  return answer.status ? `the server answered ${answer.status}` : "the server could not be reached";
}

function graph() {
  // graph.js's API, once it has started (this script runs first).
  const api = window.netviz;
  return api && typeof api.highlight === "function" ? api : null;
}

function shortEndpoint(id) {
  return id.replace(/\[[^\]]*\]$/, ""); // "ns/name[Deployment]" -> "ns/name"
}

function formatConns(conns) {
  if (typeof conns === "string") return conns === "All Connections" ? "every port" : conns;
  const parts = Object.entries(conns || {}).map(([protocol, ports]) => `${protocol} ${ports}`);
  return parts.length ? parts.join(", ") : "nothing";
}

// --- the editor ----------------------------------------------------------------------------------

function start(root) {
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

  // The bundle styles CodeMirror through constructed stylesheets, which come after app.css:
  // restyle it here, not there.
  const theme = CM.EditorView.theme({
    "&": { height: "100%", fontSize: "12.5px", backgroundColor: "#ffffff", color: "#1c2430" },
    "&.cm-focused": { outline: "none" },
    ".cm-scroller": {
      fontFamily: 'ui-monospace, "SFMono-Regular", "JetBrains Mono", Menlo, Consolas, monospace',
      lineHeight: "1.55",
    },
    ".cm-content": { padding: "6px 0" },
    ".cm-gutters": {
      backgroundColor: "#f5f7fa",
      color: "#7a8696",
      borderRight: "1px solid #dde3ea",
    },
    ".cm-activeLine": { backgroundColor: "#f3f7ff" },
    ".cm-activeLineGutter": { backgroundColor: "#e8f0ff", color: "#1c2430" },
    ".cm-selectionMatch": { backgroundColor: "#fff1c2" },
    ".cm-lintRange-error": { backgroundColor: "#fdecea" },
    ".cm-lintRange-warning": { backgroundColor: "#fff5d6" },
    ".cm-tooltip": { fontSize: "12.5px", border: "1px solid #c5ced9", borderRadius: "6px" },
    ".cm-tooltip-lint": { maxWidth: "28rem" },
    ".cm-tooltip-autocomplete > ul > li[aria-selected]": {
      backgroundColor: "#2f6fed",
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
        button.dataset.line = String(d.line || 1);
        button.title = "Show this line in the editor";
        button.append(
          el("span", "diag-severity", severity),
          el("span", "diag-line", d.line ? `line ${d.line}` : "—"),
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

  const KINDS = [
    ["added", "+", "added"],
    ["removed", "−", "removed"],
    ["changed", "~", "ports changed"],
  ];
  const MAX_ROWS = 150;

  function clearHighlight() {
    const api = graph();
    if (api) api.clearHighlight();
  }

  function impactMessage(message) {
    clearHighlight();
    impactEl.classList.remove("stale");
    impactSummary.replaceChildren(el("span", "muted", message));
    impactRows.replaceChildren();
  }

  function showImpact(impact, lead) {
    impactEl.classList.remove("stale");
    const total = KINDS.reduce((n, [kind]) => n + (impact[kind] || []).length, 0);
    if (total === 0) {
      impactMessage(`${lead} change no flow.`);
      return;
    }
    impactSummary.replaceChildren(el("span", "impact-lead", lead));
    for (const [kind, sign, label] of KINDS) {
      const count = (impact[kind] || []).length;
      const chip = el("span", `impact-chip ${kind}${count ? "" : " zero"}`, `${sign}${count}`);
      chip.append(` ${label}`);
      impactSummary.append(chip);
    }
    const rows = [];
    for (const [kind, sign, label] of KINDS) {
      for (const flow of impact[kind] || []) {
        if (rows.length >= MAX_ROWS) break;
        const item = el("li", `impact-row ${kind}`);
        const button = el("button", "impact-button");
        button.type = "button";
        button.dataset.src = flow.src;
        button.dataset.dst = flow.dst;
        button.dataset.kind = kind;
        button.title = `${label}: ${flow.src} → ${flow.dst} (show it on the graph)`;
        const ports =
          kind === "changed"
            ? `${formatConns(flow.before)} → ${formatConns(flow.after)}`
            : formatConns(flow.conns);
        const ends = el("span", "impact-ends");
        ends.append(
          el("span", "impact-end", shortEndpoint(flow.src)),
          el("span", "impact-arrow", "→"),
          el("span", "impact-end", shortEndpoint(flow.dst)),
        );
        button.append(el("span", "impact-sign", sign), ends, el("span", "impact-ports", ports));
        item.append(button);
        rows.push(item);
      }
    }
    if (total > rows.length) {
      rows.push(el("li", "impact-more muted", `… and ${total - rows.length} more`));
    }
    impactRows.replaceChildren(...rows);
    const api = graph();
    if (api) {
      const shown = api.highlight(impact);
      if (shown.missing.length) {
        impactSummary.append(
          el("span", "impact-note", `${shown.missing.length} not in the graph's current view`),
        );
      }
    }
  }

  impactRows.addEventListener("click", (e) => {
    const button = e.target.closest("[data-src]");
    const api = graph();
    if (!button || !api) return;
    const { src, dst, kind } = button.dataset;
    const edge = api.cy.edges(".hl").filter((edge) => {
      const ends = [edge.source().id(), edge.target().id()];
      const matches = (id, end) => end === id || end === `ns:${id.split("/")[0]}`;
      return edge.hasClass(`hl-${kind}`) && matches(src, ends[0]) && matches(dst, ends[1]);
    });
    if (edge.nonempty()) {
      api.cy.animate({ center: { eles: edge }, zoom: Math.max(api.cy.zoom(), 1) });
    }
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
      showImpact(result.impact, ed.canEdit ? "Saving would" : "This would");
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

  function showPoliciesTab() {
    const tab = document.querySelector("[data-side-tab=policies]");
    if (tab && tab.getAttribute("aria-selected") !== "true") tab.click();
  }

  function setWide(wide) {
    if (!workspace || workspace.classList.contains("editing") === wide) return;
    workspace.classList.toggle("editing", wide);
    const api = graph();
    if (api && !api.cy.container().closest("[hidden]")) {
      api.cy.resize();
      api.cy.fit(undefined, 30);
    }
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
    showPoliciesTab();
    setWide(true);
    // Opened from far down the list: bring the editor into view.
    const scroller = root.closest(".side-panel");
    if (scroller) scroller.scrollTop = 0;
    refreshChrome();
    refreshLinks();
    const api = graph();
    if (api && api.state().policy !== original) {
      api.setState({ policy: original }, { reload: false });
    }
    check();
  }

  let openSeq = 0;

  function openPolicy(id) {
    showPoliciesTab();
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
    clearHighlight();
    setWide(false);
    view.setState(CM.EditorState.create({ doc: "", extensions: extensions() }));
    const api = graph();
    if (api && api.state().policy) api.setState({ policy: "" }, { reload: false });
    refreshChrome();
    refreshLinks();
  }

  function close() {
    guard("close the editor", closeNow);
  }

  // A new revision exists: redraw the graph and the list (and the page's counts and history).
  function revisionChanged() {
    clearHighlight();
    const api = graph();
    if (api) api.reload();
    if (window.htmx && onHead) {
      window.htmx
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
    const api = graph();
    if (api && api.state().policy !== ed.original) {
      api.setState({ policy: ed.original }, { reload: false });
    }
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
      if (!body.yaml) {
        setPanelStatus(`${src} → ${dst}: ${body.note}`, "ok");
        return;
      }
      if (allowForm) allowForm.closest("details").open = false;
      openNew(body.yaml);
      if (body.impact) showImpact(body.impact, "Saving would"); // the check confirms it soon
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
      const api = graph(); // a policy link may have put another policy in the URL
      if (api && api.state().policy !== ed.original) {
        api.setState({ policy: ed.original }, { reload: false });
      }
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

  // graph.js asks to show a policy (a link in the list or the inspector, ?policy= in the URL).
  document.addEventListener("netviz:policy", (e) => {
    e.preventDefault();
    openPolicy(e.detail.id);
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
    showPoliciesTab();
    allowFlow(src, dst, port || "");
  });

  // Menus (Export): close on a choice, a click elsewhere, or Escape.
  document.addEventListener("click", (e) => {
    for (const menu of document.querySelectorAll("details[data-menu][open]")) {
      const inside = menu.contains(e.target);
      if (!inside || e.target.closest("a")) menu.open = false;
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    for (const menu of document.querySelectorAll("details[data-menu][open]")) menu.open = false;
  });

  window.addEventListener("beforeunload", (e) => {
    if (hasUnsavedEdits()) e.preventDefault();
  });

  // For other scripts and the browser tests; graph.js keeps it when it sets window.netviz up.
  window.netviz = {
    ...(window.netviz || {}),
    editor: {
      view,
      open: openPolicy,
      openNew,
      allowFlow,
      close,
      save,
      state: () => ({ ...ed, text: text() }),
    },
  };
  refreshChrome();
  refreshLinks();
}
