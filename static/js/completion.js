// Completion for NetworkPolicy YAML in the policy editor: the keys allowed where the cursor is
// (from the indentation of the lines above) and the values of the keys that take a fixed set.
// A CodeMirror completion source; it knows nothing else of the page.

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

/** CodeMirror completion source: NetworkPolicy keys and the values some keys take. */
export function completeNetworkPolicy(context) {
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
