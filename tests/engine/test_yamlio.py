"""yamlio's own pieces: a document's verbatim text, found fast, is the same stretch as before."""

from __future__ import annotations

import re

import pytest

from policies.engine.yamlio import _MARKER, _marker_offsets, _segments, _stretch_finder

# Each: a text whose every line is looked up both ways.
TEXTS = [
    "",
    "a: 1\n",
    "a: 1",
    "# head\na: 1\n---\n# second\nb: 2\n\n...\n\n---\nc: 3",
    "---\na: 1\n---\n",
    "--- {a: 1}\n--- [b]\n---\tc\n---",
    "a: 1\n---x\n--- \n----\n -- -\nb: 2\n...\n...\n",
    "a: 1\r\n---\r\nb: 2\r\n",  # CRLF: `---\r` is not a marker, as before
    "a: 1\r---\rb: 2\r",  # lone CR breaks lines for splitlines(): the slow path
    "a: 1\n\x85---\nb: 2\u2028---\nc\n",
    "\n\n\n---\n\n\n",
    "a: |\n  ---\n  text\n---\nb: 2\n   \n\t\n",
    "---",
    "--",
    "----\n---",
    "x\n---\n---\n--- a\n---\tb\n---c\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_markers_are_found_where_the_pattern_matches_a_line(text: str) -> None:
    expected = [m.start() for m in re.finditer(_MARKER.pattern, text, re.MULTILINE)]
    assert _marker_offsets(text) == expected


@pytest.mark.parametrize("text", TEXTS)
def test_the_stretch_finder_agrees_with_the_segments(text: str) -> None:
    segments = _segments(text)
    stretch = _stretch_finder(text)
    for line0 in range(len(text.splitlines()) + 2):
        expected = next((t for lo, hi, t in segments if lo <= line0 < hi), "")
        assert stretch(line0) == expected, line0
