// `npm run vendor`: builds every third-party browser file into static/vendor/.
// Inputs are only the npm packages pinned in package.json / package-lock.json.
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const nm = join(root, "node_modules");
const out = join(root, "static", "vendor");
mkdirSync(out, { recursive: true });

// style-mod (CodeMirror's CSS injector) only uses a constructable stylesheet
// (adoptedStyleSheets) for shadow roots; on a Document it appends a <style> element, which a
// strict `style-src 'self'` blocks. Drop the "is a shadow root" test so documents that support
// adoptedStyleSheets get a constructed sheet too (old browsers still fall back to <style>).
// See frontend/README.md. Fails loudly if a style-mod upgrade changes the code being patched.
const STYLE_MOD_FROM = "if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet) {";
const STYLE_MOD_TO = "if (root.adoptedStyleSheets && win.CSSStyleSheet) { // netviz: CSP patch";
const styleModCspPatch = {
  name: "style-mod-csp",
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]style-mod[\\/].*\.js$/ }, (args) => {
      const src = readFileSync(args.path, "utf8");
      if (src.split(STYLE_MOD_FROM).length !== 2) {
        throw new Error(`style-mod CSP patch: expected exactly one match in ${args.path}`);
      }
      return { contents: src.replace(STYLE_MOD_FROM, STYLE_MOD_TO), loader: "js" };
    });
  },
};

const common = {
  bundle: true,
  format: "iife",
  minify: true,
  target: "es2020",
  platform: "browser",
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
  banner: { js: "/* netviz vendor bundle: third-party code, see LICENSES.txt */" },
};

const bundles = [
  { entry: "frontend/cytoscape-dagre.js", outfile: "cytoscape-dagre.js", plugins: [] },
  { entry: "frontend/codemirror.js", outfile: "codemirror.js", plugins: [styleModCspPatch] },
];

// Packages that end up in static/vendor/ (name -> note), for LICENSES.txt.
const shipped = new Map();
const pkgOf = (file) => {
  const parts = relative(nm, join(root, file)).split(sep);
  return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
};

for (const { entry, outfile, plugins } of bundles) {
  const result = await build({
    ...common,
    entryPoints: [join(root, entry)],
    outfile: join(out, outfile),
    plugins,
  });
  for (const file of Object.keys(result.metafile.inputs)) {
    if (!file.includes("node_modules/")) continue;
    const name = pkgOf(file);
    const note = `bundled into ${outfile}` + (name === "style-mod" ? " (patched, see frontend/README.md)" : "");
    const prev = shipped.get(name);
    if (!prev?.includes(note)) shipped.set(name, prev ? `${prev}; ${note}` : note);
  }
}

// @dagrejs/dagre's ESM dist inlines @dagrejs/graphlib (its exact-pinned dependency), so the
// metafile never names graphlib: credit it explicitly, after checking that is still the case.
if (shipped.has("@dagrejs/dagre")) {
  const dagreEsm = readFileSync(join(nm, "@dagrejs/dagre/dist/dagre.esm.js"), "utf8");
  if (/^\s*import\b/m.test(dagreEsm)) throw new Error("dagre.esm.js now imports; revisit LICENSES");
  shipped.set("@dagrejs/graphlib", "inlined in @dagrejs/dagre's dist, bundled into cytoscape-dagre.js");
}

// Prebuilt dist files, copied as published.
const copies = [
  ["htmx.org", "dist/htmx.min.js", "htmx.min.js"],
  ["cytoscape", "dist/cytoscape.min.js", "cytoscape.min.js"],
];
for (const [name, from, to] of copies) {
  copyFileSync(join(nm, name, from), join(out, to));
  shipped.set(name, `copied ${name}/${from} -> ${to}`);
}

// Cytoscape appends <style id="__________cytoscape_stylesheet"> (one rule) unless an element
// with that id already exists; under `style-src 'self'` that is blocked. Pages link this file
// with that id instead, which both supplies the rule and stops the injection attempt.
writeFileSync(
  join(out, "cytoscape-container.css"),
  "/* Link as <link rel=\"stylesheet\" id=\"__________cytoscape_stylesheet\" href=\".../cytoscape-container.css\">\n" +
    "   so cytoscape does not inject an inline <style> (blocked by CSP). See frontend/README.md. */\n" +
    ".__________cytoscape_container { position: relative; }\n",
);

// LICENSES.txt: each shipped package with version, license and full license text.
const readPkg = (name) => JSON.parse(readFileSync(join(nm, name, "package.json"), "utf8"));
const licenseText = (name) => {
  const dir = join(nm, name);
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  if (!file) throw new Error(`no license file in ${dir}`);
  return readFileSync(join(dir, file), "utf8").trim();
};
const sections = [...shipped.keys()].sort().map((name) => {
  const pkg = readPkg(name);
  const homepage = pkg.homepage || pkg.repository?.url || pkg.repository || "";
  return [
    "=".repeat(78),
    `${name} ${pkg.version}`,
    `License: ${pkg.license}`,
    homepage ? `Source: ${homepage}` : null,
    `Use: ${shipped.get(name)}`,
    "-".repeat(78),
    licenseText(name),
    "",
  ].filter((l) => l !== null).join("\n");
});
writeFileSync(
  join(out, "LICENSES.txt"),
  [
    "Third-party code in static/vendor/ (generated by `npm run vendor`, do not edit).",
    `${shipped.size} packages; versions are pinned in package.json and package-lock.json.`,
    "",
    ...sections,
  ].join("\n"),
);

const outputs = ["htmx.min.js", "cytoscape.min.js", "cytoscape-container.css", "cytoscape-dagre.js",
  "codemirror.js", "LICENSES.txt"];
for (const f of outputs) {
  if (!existsSync(join(out, f))) throw new Error(`missing ${f}`);
  console.log(`static/vendor/${f}`.padEnd(36), readFileSync(join(out, f)).length, "bytes");
}
