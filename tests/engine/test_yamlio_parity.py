"""Both YAML readers build the same documents, lines and errors from the same text.

The native reader (`_fastyaml.c`) follows the pure-Python one (yamlio's _Builder over PyYAML's
node tree). Fed here: every corpus input, generated benchmark clusters, and hand-written
edge and hostile inputs.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policies.engine import yamlio
from policies.engine.errors import ManifestError
from policies.engine.yamlio import (
    LineDict,
    LineList,
    parse_documents_native,
    parse_documents_python,
)

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("NETVIZ_CORPUS", REPO.parent / "shared" / "corpus"))
CORPUS_FILES = sorted(
    p
    for sub in ("cases", "admin-cases")
    for p in (CORPUS / sub).glob("*/input/**/*")
    if p.suffix in (".yaml", ".yml", ".json")
)
# Where libyaml's headers are installed, `make install` must have built the native reader: a
# missing module there is a build failure, not a reason to skip.
LIBYAML_HEADERS = Path("/usr/include/yaml.h").exists()


def test_the_native_reader_is_built_where_libyaml_headers_are_installed() -> None:
    if not LIBYAML_HEADERS:
        pytest.skip("no /usr/include/yaml.h: the pure-Python reader is the only one here")
    assert yamlio._fastyaml is not None, "run `make install`: _fastyaml.c did not build"


def _same(a: object, b: object, where: str = "") -> None:
    """Equal values of the same types, with the same lines, all the way down."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, LineDict):
        assert (a.line, list(a.lines.items())) == (b.line, list(b.lines.items())), where
        assert list(a) == list(b), where
        assert [type(k) for k in a] == [type(k) for k in b], where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, LineList):
        assert (a.line, a.lines, len(a)) == (b.line, b.lines, len(b)), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def _outcome(parse, text: str, file: str) -> object:
    try:
        return parse(text, file)
    except ManifestError as exc:
        return ("error", exc.message, exc.location)


def assert_same_reading(text: str, file: str = "in.yaml") -> object:
    """Both readers on `text`: identical documents or identical errors; returns the outcome."""
    native = _outcome(parse_documents_native, text, file)
    python = _outcome(parse_documents_python, text, file)
    if isinstance(python, tuple):
        assert native == python
        return python
    assert not isinstance(native, tuple), f"native: {native}, python read it"
    assert len(native) == len(python)
    for i, (n, p) in enumerate(zip(native, python, strict=True)):
        assert (n.line, n.text) == (p.line, p.text), f"document {i}"
        _same(n.value, p.value, f"document {i}")
    return python


needs_native = pytest.mark.skipif(
    yamlio._fastyaml is None and not LIBYAML_HEADERS, reason="no libyaml headers, no native reader"
)


@needs_native
@pytest.mark.skipif(not CORPUS_FILES, reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_input_reads_the_same(path: Path) -> None:
    assert_same_reading(path.read_text(encoding="utf-8-sig"), path.name)


@needs_native
@pytest.mark.parametrize("size", ["S", "M"])
def test_generated_benchmark_clusters_read_the_same(size: str, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import generate
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    generate.generate(size, tmp_path)
    files = sorted(tmp_path.glob("*.yaml"))
    assert files
    for path in files:
        assert_same_reading(path.read_text(), path.name)


# Edge cases of YAML 1.1 as PyYAML reads it; each a text and a comment on what it exercises.
EDGE_CASES = [
    # implicit types: bools, nulls, ints in every base, floats, and look-alikes that are strings
    "a: [yes, No, TRUE, off, On, y, n, ~, null, Null, NULL, '', nulL]\n",
    "a: [0, -0, +5, 007, 0o7, 08, 0x1F, 0x_1f, -0b101, 0b_, 1_000, 1:30, -1:30:00, 190:20:30]\n",
    "a: [1.5, -1.5e+3, 1e3, 1.e-2, .5, ._5, +.inf, -.Inf, .NaN, .nan, 1_0.5, 1:30.5, 6.8523015e+5]\n",
    "a: [2001-12-14, 2001-12-14t21:59:43.10-05:00, '=', =, <<, 1__, 12345678901234567890123]\n",
    # quoted and block scalars stay strings; explicit tags
    "a: ['1', \"true\", |\n    80\n  , >\n    null\n  ]\nb: !!str 12\nc: !!int '12'\nd: !!float 3\ne: !!bool yes\n",
    "a: !custom 12\nb: ! 12\nc: ! '12'\nd: !!null x\ne: !!binary aGk=\nf: !!timestamp 2001-12-14\n",
    # an explicit tag its text cannot be read as: a located error, not a crash
    "a: 1\nb: !!int twelve\n",
    "a: !!bool maybe\n",
    "a: !!float ''\n",
    # keys: numbers, bools and nulls as keys; equal keys of different types are duplicates
    "1: a\n2.5: b\ntrue: c\n~: d\n'1': e\n",
    "1: a\ntrue: b\n",
    "a: 1\nb: 2\na: 3\n",
    "[a, b]: 1\n",
    "? {a: 1}\n: x\n",
    "a: &x [1]\n*x : 2\n",
    # merge keys: one mapping, a list of them, aliases, explicit keys win, and misuse
    "base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\nm:\n  <<: [*b, *o]\n  w: 5\n",
    "base: &b {x: 1}\nm:\n  w: 0\n  <<: *b\n",
    "base: &b {x: 1}\nm:\n  <<: *b\n  x: 2\n",
    "m:\n  <<: {a: 1, b: [2]}\n  c: 3\n",
    "m:\n  <<: [{a: 1}, {a: 2, b: 3}]\n",
    "m:\n  <<: 5\n",
    "m:\n  <<: [{a: 1}, 5]\n",
    "l: &l [{a: 1}, {b: 2}]\nm:\n  <<: *l\n",
    "l: &l [{a: 1}, x]\nm:\n  <<: *l\n",
    "m: {!!merge x: {a: 1}, b: 2}\n",
    "k: &k <<\nm: {*k : {a: 1}}\n",
    # merge keys with written keys over them: after, before, in lists, twice, and duplicates
    "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 2\n  z: 3\n",
    "base: &b {x: 1, y: 2}\nm:\n  x: 2\n  <<: *b\n",
    "a: &a {x: a, y: a}\nb: &b {x: b, z: b}\nm:\n  <<: [*a, *b]\n  z: m\n  x: m\n",
    "m: {<<: [{x: 1}, {x: 2, y: 2}], y: 3}\n",
    "l: &l [{x: 1}, {y: 2}]\nm:\n  <<: *l\n  y: 3\n",
    "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nm:\n  <<: *a\n  <<: *b\n  x: 3\n",
    "base: &b {x: 1}\nm:\n  <<: *b\n  x: 2\n  x: 3\n",
    "base: &b {x: 1}\nm:\n  x: 2\n  <<: *b\n  x: 3\n",
    "m: {<<: {y: 1}, x: 1, y: 2, x: 2}\n",
    "base: &b {x: {deep: 1}}\nm:\n  <<: *b\n  x: {deep: 2}\nn:\n  <<: *b\n",
    "d: &d\n  <<: {x: 1}\n  x: 2\ne:\n  <<: *d\n  y: 3\n",
    # aliases: scalars, shared collections, NaN keys, recursion, undefined and duplicate anchors
    "a: &n 5\nb: *n\nc: &s text\nd: [*s, *n]\n",
    "? &n .nan\n: 1\n? *n\n: 2\n",
    "a: &a [1, *a]\n",
    "a: &a {b: *a}\n",
    "a: *nowhere\n",
    "a: &x 1\nb: &x 2\n",
    "a: &x [&x 1]\n",
    "--- &x 1\n--- *x\n",
    # documents: empty ones, markers, directives, comments, ends
    "",
    "# only a comment\n",
    "---\n",
    "---\n---\n",
    "a: 1\n...\n---\nb: 2\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "--- !!map\na: 1\n",
    "--- {a: 1}\n--- [b]\n--- c\n",
    # documents whose node starts on the `---` line: their text is that line without it
    "--- {apiVersion: v1, kind: Pod,\n  metadata: {name: a}}\n--- !!map\nkind: X\n",
    "# head\n--- &base\nkind: Pod\n--- |\n  text\n---\n--- >-\n  x\n...\n",
    "%YAML 1.1\n--- !!map {a: 1}\n--- --- x\n",
    "# head\napiVersion: v1\nkind: Pod # trailing\n---\n# second\nkind: List\n",
    # syntax errors: the first one wins over build errors earlier in the stream
    "a: [1, 2\n",
    "a: 1\n b: 2\n",
    "a: 1\na: 2\n---\nb: [\n",
    "a: 'unterminated\n",
    'a: "\\ud800"\n',
    "a: \x01\n",
    "a:\tb\n",
    "a: [1,\t2]\n",
    "a: {b: 1,\tc: 2}\n",
    "- a\nb: c\n",
    "%YAML 2.0\n---\na: 1\n",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    # build errors: the first document with one reports it
    "a: 1\n---\nb: 2\nb: 3\n---\nc: 4\nc: 5\n",
    "a: " + "[" * 70 + "]" * 70 + "\n",
    "a: " + "{b: " * 70 + "1" + "}" * 70 + "\n",
    "".join(" " * i + "k:\n" for i in range(80)) + " " * 80 + "v\n",
    "a: " + "[" * 500 + "]" * 500 + "\n",
    # unicode
    'ключ: значение\nemoji: \U0001f600\nesc: "\\u00e9\\x41\\N"\n',
    "\ufeffa: 1\n",
    # long scalars (past the cache) and many repeats (through it)
    "a: " + "x" * 300 + "\nb: [" + ", ".join(["web"] * 50) + "]\n",
    # CRLF line ends, and `---\r\n` markers between documents
    "a: 1\r\nb:\r\n  - 2\r\n  - 3\r\n",
    "a: 1\r\n---\r\nb: 2\r\n--- \r\n# c\r\nc: [3,\r\n  4]\r\n...\r\n--- {d: 5}\r\n",
]


@needs_native
@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_read_the_same(text: str) -> None:
    assert_same_reading(text)


@needs_native
def test_json_files_read_the_same_with_tabs_between_tokens() -> None:
    text = '{\n\t"kind": "Pod",\n\t"spec": {"ports": [1,\t2]}\n}\n'
    docs = assert_same_reading(text, "pod.json")
    assert docs[0].value == {"kind": "Pod", "spec": {"ports": [1, 2]}}


def _bomb(first_line: str, levels: int = 9, width: int = 9) -> str:
    """A billion-laughs document of `levels` anchors, each `width` aliases of the one before."""
    names = [chr(ord("a") + i) for i in range(levels)]
    parts = [f"{names[0]}: &{names[0]} [" + ",".join(["x"] * width) + "]"]
    parts += [
        f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * width) + "]"
        for prev, cur in itertools.pairwise(names)
    ]
    return first_line + "{" + ", ".join(parts) + "}\n"


# Alias bombs however their document starts; before the fix one starting on the `---` line
# skipped the guard (703 bytes, 30 s and 4 GB).
BOMBS = [
    ("", 1),
    ("--- ", 1),
    ("--- !!map ", 1),
    ("%YAML 1.1\n--- ", 2),
    ("apiVersion: v1\nkind: Pod\n---\n", 4),
    ("# a comment\n---\n", 3),
]


@needs_native
@pytest.mark.parametrize(("start", "line"), BOMBS)
def test_alias_bombs_are_rejected_by_both_readers_however_the_document_starts(
    start: str, line: int
) -> None:
    outcome = assert_same_reading(_bomb(start), "bomb.yaml")
    assert isinstance(outcome, tuple), "the bomb was read"
    _, message, location = outcome
    assert "alias bomb" in message
    assert (location.file, location.line) == ("bomb.yaml", line)


@needs_native
@pytest.mark.parametrize(
    "text",
    [
        _bomb("--- ").replace("{", "{z: 1, z: 2, ", 1),  # a duplicate key before the bomb
        _bomb("--- ").replace("}", ", r: &r [*r]}", 1),  # a recursive alias after it
        _bomb("--- ").replace("{", "{k: &k [*k], ", 1),  # a recursive alias before it
    ],
)
def test_the_bomb_guard_wins_over_other_errors_of_its_document(text: str) -> None:
    outcome = assert_same_reading(text, "bomb.yaml")
    assert "alias bomb" in outcome[1]


@needs_native
@pytest.mark.parametrize("start", ["", "--- "])
def test_a_bomb_of_merges_with_written_keys_over_them_is_still_a_bomb(start: str) -> None:
    # Each level merges the one before and writes one of its keys again: no duplicate key
    # any more, so only the expansion guard stands between the text and the expansion.
    levels = [f"{start}{{b0: &b0 {{x: 1, y: 2}}"] + [
        f"b{i}: &b{i} {{<<: [*b{i - 1}], x: {i}, z{i}: [*b{i - 1}, *b{i - 1}, *b{i - 1}]}}"
        for i in range(1, 15)
    ]
    outcome = assert_same_reading(", ".join(levels) + "}\n", "bomb.yaml")
    assert isinstance(outcome, tuple), "the bomb was read"
    assert "alias bomb" in outcome[1]
    assert outcome[2].line == 1


@needs_native
def test_an_error_in_an_earlier_document_wins_over_a_later_bomb() -> None:
    outcome = assert_same_reading("a: 1\na: 2\n" + _bomb("--- "), "bomb.yaml")
    assert outcome[1] == "duplicate key 'a'"


@needs_native
def test_a_bomb_beside_a_syntax_error_reports_the_syntax_error() -> None:
    outcome = assert_same_reading(_bomb("--- ") + "--- [\n", "bomb.yaml")
    assert outcome[1].startswith("invalid YAML")


@needs_native
def test_large_documents_without_aliases_are_not_bombs() -> None:
    # 1.2 million values, no alias: big, but nothing expands
    text = "a: [" + ",".join(["1"] * 1_200_000) + "]\n"
    for parse in (parse_documents_native, parse_documents_python):
        (doc,) = parse(text, "big.yaml")
        assert len(doc.value["a"]) == 1_200_000


def _block_mappings(levels: int) -> str:
    return "".join(" " * i + "k:\n" for i in range(levels))


def _block_sequences(levels: int) -> str:
    return "".join(" " * i + "- \n" for i in range(0, 2 * levels, 2))


def _indentless(levels: int) -> str:
    # `k:` then `- ` at the same column: the sequences add no indentation level
    return "".join(" " * (2 * i) + "k:\n" + " " * (2 * i) + "- \n" for i in range(levels))


# libyaml 0.2.6 (in PyYAML's wheels) stops at 1,000 flow levels or block indents in its scanner;
# the native reader applies the same limits (Debian's 0.2.5 has none and slows down
# quadratically with depth). Both sides of each limit, and far past it.
@needs_native
@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 1000 + "]" * 1000 + "\n",
        "a: " + "[" * 1001 + "]" * 1001 + "\n",
        "{a: " * 1001 + "}" * 1001 + "\n",
        "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "b: [\n" + "a: " + "[" * 2000,
        _block_mappings(999),
        _block_mappings(1000),
        _block_mappings(1100),
        _block_sequences(999),
        _block_sequences(1000),
        _block_sequences(1100),
        _indentless(600),
        _block_mappings(500) + " " * 500 + "x: " + "[" * 500 + "]" * 500 + "\n",
        _block_mappings(499) + " " * 499 + "x: " + "[" * 500 + "]" * 500 + "\n",
        "- " * 999 + "x\n",
        "- " * 1000 + "x\n",
    ],
    ids=lambda t: f"{len(t)} chars",
)
def test_nesting_limits_are_the_same(text: str) -> None:
    outcome = assert_same_reading(text, "deep.yaml")
    assert isinstance(outcome, tuple), "nested deeper than MAX_DEPTH, yet read"
    assert "nest" in outcome[1]


# The bomb of the hardening issue: 703 bytes, a document that starts on its `---` line.
ISSUE_BOMB = _bomb("--- ")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
@pytest.mark.parametrize("reader", ["native", "python"])
def test_the_issue_bomb_is_refused_without_expanding_it(reader: str) -> None:
    if reader == "native" and yamlio._fastyaml is None:
        pytest.skip("native reader not built")
    # A fresh process, so that its peak memory is the bomb's alone: expanded, it would be
    # hundreds of millions of values and gigabytes.
    probe = (
        "import sys\n"
        "from policies.engine import yamlio\n"
        "from policies.engine.errors import ManifestErrors\n"
        "from policies.engine.manifests import load_documents\n"
        "try:\n"
        "    load_documents([('bomb.yaml', sys.stdin.read())])\n"
        "except ManifestErrors as exc:\n"
        "    print(exc.errors[0])\n"
        # VmHWM, not ru_maxrss: Linux carries the latter over from the forking parent
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(int(hwm.split()[1]) // 1024)\n"
        "print(yamlio.READER)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        input=ISSUE_BOMB,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "NETVIZ_YAML_READER": reader},
        timeout=120,
        check=True,
    )
    error, peak_mb, used = done.stdout.splitlines()
    assert used == reader
    assert error == (
        "bomb.yaml:1: YAML aliases expand to more than a million values (an alias bomb?)"
    )
    assert int(peak_mb) < 200
