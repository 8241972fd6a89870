// Entry for static/vendor/codemirror.js (esbuild IIFE). Exposes window.CM so that plain
// <script src> page code (no bundler, strict CSP) can build a YAML editor with server-pushed
// diagnostics, a lint gutter, custom completions and line highlighting.
import { EditorView, keymap, Decoration, ViewPlugin, WidgetType, placeholder, lineNumbers,
  highlightActiveLine, drawSelection } from "@codemirror/view";
import { EditorState, EditorSelection, Compartment, StateEffect, StateField, RangeSetBuilder,
  Prec, Transaction } from "@codemirror/state";
import { basicSetup, minimalSetup } from "codemirror";
import { yaml, yamlLanguage } from "@codemirror/lang-yaml";
import { linter, lintGutter, setDiagnostics, forceLinting, diagnosticCount, lintKeymap,
  openLintPanel, closeLintPanel, nextDiagnostic, previousDiagnostic } from "@codemirror/lint";
import { autocompletion, completionKeymap, startCompletion, closeCompletion,
  snippetCompletion, completeFromList, ifIn, ifNotIn } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxTree, indentUnit, syntaxHighlighting, defaultHighlightStyle,
  HighlightStyle } from "@codemirror/language";

window.CM = Object.freeze({
  // view
  EditorView, keymap, Decoration, ViewPlugin, WidgetType, placeholder, lineNumbers,
  highlightActiveLine, drawSelection,
  // state
  EditorState, EditorSelection, Compartment, StateEffect, StateField, RangeSetBuilder, Prec,
  Transaction,
  // setups and language
  basicSetup, minimalSetup, yaml, yamlLanguage, syntaxTree, indentUnit, syntaxHighlighting,
  defaultHighlightStyle, HighlightStyle,
  // lint (diagnostics are computed server-side and pushed with setDiagnostics)
  linter, lintGutter, setDiagnostics, forceLinting, diagnosticCount, lintKeymap, openLintPanel,
  closeLintPanel, nextDiagnostic, previousDiagnostic,
  // completion
  autocompletion, completionKeymap, startCompletion, closeCompletion, snippetCompletion,
  completeFromList, ifIn, ifNotIn,
  // commands
  defaultKeymap, history, historyKeymap, indentWithTab,
});
