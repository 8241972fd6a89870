"""yamlio's own pieces: a document's verbatim text (found fast, the same as found line by
line), documents that start on their `---` line, CRLF files, and YAML 1.1 merge keys, each
through both readers."""

from __future__ import annotations

import re

import pytest

from policies.engine.errors import ManifestError
from policies.engine.yamlio import (
    _MARKER,
    _marker_offsets,
    _slow_stretch_finder,
    _stretch_finder,
)

from .helpers import READERS

# Each: a text whose every line is looked up both ways.
TEXTS = [
    "",
    "a: 1\n",
    "a: 1",
    "# head\na: 1\n---\n# second\nb: 2\n\n...\n\n---\nc: 3",
    "---\na: 1\n---\n",
    "--- {a: 1}\n--- [b]\n---\tc\n---",
    "a: 1\n---x\n--- \n----\n -- -\nb: 2\n...\n...\n",
    "a: 1\r\n---\r\nb: 2\r\n",  # CRLF: `---\r\n` is a marker
    "--- {a: 1}\r\n# b\r\n---  \r\nb: 2\r\n...\r\n\r\n--- !!map\r\nc: 3",
    "a: 1\r---\rb: 2\r",  # lone CR breaks lines for splitlines(): the slow path
    "a: 1\n\x85---\nb: 2\u2028---\nc\n",
    "\n\n\n---\n\n\n",
    "a: |\n  ---\n  text\n---\nb: 2\n   \n\t\n",
    "---",
    "--",
    "----\n---",
    "x\n---\n---\n--- a\n---\tb\n---c\n",
    "# one\n\n# two\n--- {a: 1}\n---\n%YAML 1.1\n--- {b: 2}\n",
    "--- --- x\n--- ...\n--- &a\nb: 1\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_markers_are_found_where_the_pattern_matches_a_line(text: str) -> None:
    expected = [m.start() for m in re.finditer(_MARKER.pattern, text, re.MULTILINE)]
    assert _marker_offsets(text) == expected


@pytest.mark.parametrize("text", TEXTS)
def test_the_fast_stretch_finder_agrees_with_the_line_by_line_one(text: str) -> None:
    fast, slow = _stretch_finder(text), _slow_stretch_finder(text)
    for line0 in range(len(text.splitlines()) + 2):
        assert fast(line0) == slow(line0), line0


POD = "apiVersion: v1, kind: Pod, metadata: {name: web, labels: {app: web}}"


# Each: a stream, and (line, text) of each of its documents. The text of a document whose node
# starts on its `---` line is that line without the marker, and what follows up to the next one.
MARKER_LINE_DOCUMENTS = [
    # flow mappings, one per marker line, the last without a line end
    (f"--- {{{POD}}}\n--- {{a: 1}}", [(1, f"{{{POD}}}\n"), (2, "{a: 1}")]),
    # a flow mapping over several lines, then an ordinary document
    ("--- {a: 1,\n  b: [2,\n  3]}\n---\nc: 4\n", [(1, "{a: 1,\n  b: [2,\n  3]}\n"), (5, "c: 4\n")]),
    # a tag, an anchor, or both, with the block mapping on the lines below
    ("--- !!map\nkind: Pod\nx: 1\n", [(1, "!!map\nkind: Pod\nx: 1\n")]),
    ("--- &base\nkind: Pod\n...\n", [(1, "&base\nkind: Pod\n")]),
    ("--- &b !!map\n  kind: Pod\n", [(1, "&b !!map\n  kind: Pod\n")]),
    # block and quoted scalars
    ("--- |\n  text\n--- >-\n  folded\n", [(1, "|\n  text\n"), (3, ">-\n  folded\n")]),
    ('--- "a\n  b"\n', [(1, '"a\n  b"\n')]),
    # the comments above the marker come along; a directive (which needs its `---`) does not
    ("# the web pods\n\n--- {a: 1}\n", [(3, "# the web pods\n{a: 1}\n")]),
    # (the comment line between two markers is an empty document: no text of its own)
    ("a: 1\n---\n# b's\n--- {b: 2}\n", [(1, "a: 1\n"), (4, ""), (4, "# b's\n{b: 2}\n")]),
    ("%YAML 1.1\n--- {a: 1}\n", [(2, "{a: 1}\n")]),
    # a scalar that reads like a marker keeps its column
    ("--- --- x\n", [(1, "    --- x\n")]),
    # CRLF
    ("--- {a: 1}\r\n--- !!map\r\nb: 2\r\n", [(1, "{a: 1}\r\n"), (2, "!!map\r\nb: 2\r\n")]),
]


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize(("text", "expected"), MARKER_LINE_DOCUMENTS)
def test_a_document_that_starts_on_its_marker_line_keeps_its_text(
    read, text: str, expected: list
) -> None:
    docs = read(text, "in.yaml")
    assert [(d.line, d.text) for d in docs] == expected
    for doc in (d for d in docs if d.value is not None):
        (again,) = read(doc.text, "again.yaml")
        assert again.value == doc.value


@pytest.mark.parametrize("read", READERS)
def test_a_policy_written_on_its_marker_line_is_stored_with_its_text(read) -> None:
    text = (
        "--- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,\n"
        "     metadata: {name: deny, namespace: shop}, spec: {podSelector: {}}}\n"
    )
    (doc,) = read(text, "deny.yaml")
    assert doc.text == text[4:]
    assert doc.value["spec"] == {"podSelector": {}}


# CRLF files: `---\r\n` (also with blanks before the CR) separates documents, each text stops
# at the next one, and lines count CRLF once.
CRLF = "".join(
    [
        "# shop\r\n",
        "a: 1\r\n",
        "---\r\n",
        "b:\r\n",
        "  c: 2\r\n",
        "---  \r\n",
        "\r\n",
        "d: 3\r\n",
        "...\r\n",
        "---\t\r\n",
        "e: [4]\r\n",
    ]
)


@pytest.mark.parametrize("read", READERS)
def test_crlf_markers_separate_documents_with_their_own_text_and_lines(read) -> None:
    docs = read(CRLF, "crlf.yaml")
    assert [(d.line, d.text) for d in docs] == [
        (2, "# shop\r\na: 1\r\n"),
        (4, "b:\r\n  c: 2\r\n"),
        (8, "\r\nd: 3\r\n"),
        (11, "e: [4]\r\n"),
    ]
    assert docs[1].value["b"].lines == {"c": 5}
    assert docs[3].value.lines == {"e": 11}
    for doc in docs:
        (again,) = read(doc.text, "again.yaml")
        assert again.value == doc.value


# YAML 1.1 merge keys: a key written in the mapping wins over a merged one wherever the `<<`
# stands, and among merged maps the earlier one wins. Each: a stream, the merged mapping `m`,
# and the line of each of its keys.
MERGES = [
    # an override after the merge key (the Deployment: `<<: *base` then `replicas: 3`)
    (
        "base: &base {replicas: 1, paused: false}\nm:\n  <<: *base\n  replicas: 3\n",
        {"replicas": 3, "paused": False},
        {"replicas": 4, "paused": 1},
    ),
    # an override before it
    (
        "base: &base {replicas: 1, paused: false}\nm:\n  replicas: 3\n  <<: *base\n",
        {"replicas": 3, "paused": False},
        {"replicas": 3, "paused": 1},
    ),
    # a list of maps: the earlier wins over the later, the written key over both
    (
        "a: &a {x: a, y: a}\nb: &b\n  x: b\n  z: b\nm:\n  <<: [*a, *b]\n  y: m\n",
        {"x": "a", "y": "m", "z": "b"},
        {"x": 1, "y": 7, "z": 4},
    ),
    # maps written in place, and an override in a flow mapping
    ("m: {<<: [{x: 1}, {x: 2, y: 2}], y: 3}\n", {"x": 1, "y": 3}, {"x": 1, "y": 1}),
    # a list of maps behind one alias
    ("l: &l [{x: 1}, {y: 2}]\nm:\n  <<: *l\n  y: 3\n", {"x": 1, "y": 3}, {"x": 1, "y": 4}),
    # two merge keys: what the first brought is kept, and the written key wins over both
    (
        "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nm:\n  <<: *a\n  <<: *b\n  x: 3\n",
        {"x": 3, "y": 2},
        {"x": 6, "y": 2},
    ),
]


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize(("text", "merged", "lines"), MERGES)
def test_written_keys_win_over_merged_ones(read, text: str, merged: dict, lines: dict) -> None:
    (doc,) = read(text, "merge.yaml")
    m = doc.value["m"]
    assert m == merged
    assert m.lines == lines


# Two written keys are a duplicate however many merges stand around them. Each: a stream and
# the line of the error.
DUPLICATES = [
    ("base: &b {x: 1}\nm:\n  <<: *b\n  x: 2\n  x: 3\n", 5),
    ("base: &b {x: 1}\nm:\n  x: 2\n  <<: *b\n  x: 3\n", 5),
    ("m:\n  x: 1\n  x: 2\n", 3),
    ("m: {<<: {y: 1}, x: 1, y: 2, x: 2}\n", 1),
]


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize(("text", "line"), DUPLICATES)
def test_two_written_keys_stay_a_duplicate(read, text: str, line: int) -> None:
    with pytest.raises(ManifestError) as caught:
        read(text, "dup.yaml")
    assert caught.value.message in ("duplicate key 'x'", "duplicate key 'y'")
    assert (caught.value.location.file, caught.value.location.line) == ("dup.yaml", line)
