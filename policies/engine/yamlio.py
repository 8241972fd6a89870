"""YAML and JSON text → Python values that remember the line of every key and item.

Two readers build the same values (LineDict, LineList, scalars), the same lines and the same
errors:

- the native one (`_fastyaml.c`, built against libyaml when `make install` can) turns libyaml's
  events straight into those values, about seven times faster than the other one;
- the pure-Python one, below, composes PyYAML's node tree (its libyaml parser where installed)
  and builds the values from it. It is the specification the native reader follows, and the
  fallback where the native one could not be built.

`NETVIZ_YAML_READER=python` (or `native`, which fails loudly when it is missing) picks one;
tests/engine/test_yamlio_parity.py feeds both the same inputs.

Guards, in both readers and for every document however it starts: a document nested deeper
than MAX_DEPTH, or whose aliases expand to more than MAX_EXPANDED values, is an error located
at its line, found without expanding anything.
"""

from __future__ import annotations

import math
import os
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ManifestError
from .model import Location

if TYPE_CHECKING:
    from collections.abc import Iterator

    from yaml.nodes import Node, ScalarNode

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPANDED",
    "READER",
    "Document",
    "LineDict",
    "LineList",
    "parse_documents",
    "parse_documents_native",
    "parse_documents_python",
]

MAX_DEPTH = 64  # real manifests nest about 15 levels deep
MAX_EXPANDED = 1_000_000  # nodes after expanding aliases: the "billion laughs" guard


class LineDict(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    __slots__ = ("line", "lines")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[Any, int] = {}


class LineList(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    __slots__ = ("line", "lines")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: list[int] = []


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its value, first line, and its text as written."""

    value: Any
    line: int
    text: str


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


class _BadScalar(ValueError):
    """An explicitly tagged scalar its tag cannot read (`!!int abc`)."""


# PyYAML's SafeConstructor, for the four tags we construct: both readers share this, and the
# native one needs no `import yaml` for it.
_BOOL_VALUES = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}


def _yaml_int(value: str) -> int:
    value = value.replace("_", "")
    sign = +1
    if value[0] == "-":
        sign = -1
    if value[0] in "+-":
        value = value[1:]
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value[0] == "0":
        return sign * int(value, 8)
    if ":" in value:
        total, base = 0, 1
        for part in reversed(value.split(":")):
            total += int(part) * base
            base *= 60
        return sign * total
    return sign * int(value)


def _yaml_float(value: str) -> float:
    value = value.replace("_", "").lower()
    sign = +1
    if value[0] == "-":
        sign = -1
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * math.inf
    if value == ".nan":
        return math.nan
    if ":" in value:
        total, base = 0.0, 1
        for part in reversed(value.split(":")):
            total += float(part) * base
            base *= 60
        return sign * total
    return sign * float(value)


def _construct(tag: str, value: str) -> Any:
    """The value of a scalar with a resolved tag; _BadScalar when the tag cannot read it."""
    if tag == _STR:
        return value
    try:
        if tag == _INT:
            return _yaml_int(value)
        if tag == _BOOL:
            return _BOOL_VALUES[value.lower()]
        if tag == _NULL:
            return None
        if tag == _FLOAT:
            return _yaml_float(value)
    except (ValueError, IndexError, KeyError):
        short = tag.rsplit(":", 1)[-1]
        raise _BadScalar(f"invalid YAML: {value!r} is not a valid !!{short}") from None
    # Timestamps, binary and custom tags stay the text the user wrote.
    return value


# ---- the pure-Python reader: PyYAML's node tree, then our values ---------------------------
def _scalar(node: ScalarNode) -> Any:
    return _construct(node.tag, node.value)


class _Builder:
    def __init__(self, file: str) -> None:
        from yaml.nodes import ScalarNode, SequenceNode

        self.scalar_type, self.sequence_type = ScalarNode, SequenceNode
        self.file = file
        self.built: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}
        self.reused = False  # build() met a collection again: the document has an alias
        self.has_alias = False  # expanded_size() met a collection again

    def error(self, node: Node, message: str) -> ManifestError:
        return ManifestError(message, Location(self.file, node.start_mark.line + 1))

    def check_expansion(self, root: Node) -> None:
        """The alias-bomb guard: raises when a document that reuses a collection (through an
        alias) would expand to more than MAX_EXPANDED values."""
        if self.expanded_size(root) > MAX_EXPANDED and self.has_alias:
            raise ManifestError(_BOMB, Location(self.file, root.start_mark.line + 1))

    def expanded_size(self, root: Node) -> int:
        """Nodes the document holds once every alias is expanded (memoized per node).

        A collection met again is an alias (has_alias); one met again while its own children
        are being counted is a recursive alias and counts once (build() rejects it). Iterative:
        libyaml lets a document nest 1,000 levels deep, past Python's recursion limit.
        """
        sizes, cap = self.sizes, MAX_EXPANDED + 1
        sizes[id(root)] = 1
        stack = [(root, self._children(root), 1)]
        while stack:
            node, children, total = stack.pop()
            for child in children:
                if id(child) in sizes:
                    if not isinstance(child, self.scalar_type):
                        self.has_alias = True
                    total += sizes[id(child)]
                    continue
                sizes[id(child)] = 1
                stack.append((node, children, total))
                stack.append((child, self._children(child), 1))
                break
            else:
                sizes[id(node)] = size = min(total, cap)
                if stack:
                    parent, siblings, parent_total = stack.pop()
                    stack.append((parent, siblings, parent_total + size))
        return sizes[id(root)]

    def _children(self, node: Node) -> Iterator[Node]:
        if isinstance(node, self.scalar_type):
            return iter(())
        if isinstance(node, self.sequence_type):
            return iter(node.value)
        return (n for pair in node.value for n in pair)

    def scalar(self, node: ScalarNode) -> Any:
        try:
            return _scalar(node)
        except _BadScalar as exc:
            raise self.error(node, str(exc)) from None

    def build(self, node: Node, depth: int = 0) -> Any:
        if isinstance(node, self.scalar_type):
            return self.scalar(node)
        key = id(node)
        if key in self.built:
            self.reused = True
            if self.built[key] is _IN_PROGRESS:
                raise self.error(node, "a YAML alias refers to its own parent (recursive)")
            return self.built[key]
        if depth > MAX_DEPTH:
            raise self.error(node, f"the document is nested deeper than {MAX_DEPTH} levels")
        self.built[key] = _IN_PROGRESS
        line = node.start_mark.line + 1
        if isinstance(node, self.sequence_type):
            seq = LineList(line)
            for item in node.value:
                seq.append(self.build(item, depth + 1))
                seq.lines.append(item.start_mark.line + 1)
            self.built[key] = seq
            return seq
        mapping = LineDict(line)
        merged: set = set()  # keys that came from '<<' and no explicit key has replaced yet
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self._merge(mapping, merged, value_node, depth)
                continue
            if not isinstance(key_node, self.scalar_type):
                raise self.error(key_node, "a mapping key must be a plain value")
            k = self.scalar(key_node)
            if k in mapping:
                # YAML 1.1's merge: a key written in the mapping wins over a merged one,
                # wherever the '<<' stands; two written keys stay a duplicate.
                if k not in merged:
                    raise self.error(key_node, f"duplicate key {k!r}")
                merged.discard(k)
            mapping[k] = self.build(value_node, depth + 1)
            mapping.lines[k] = key_node.start_mark.line + 1
        self.built[key] = mapping
        return mapping

    def _merge(self, mapping: LineDict, merged: set, value_node: Node, depth: int) -> None:
        # Keys already there (written, or merged from an earlier map of `<<: [*a, *b]`) win.
        is_list = isinstance(value_node, self.sequence_type)
        sources = value_node.value if is_list else [value_node]
        for source in sources:
            value = self.build(source, depth + 1)
            if not isinstance(value, dict):
                raise self.error(source, "'<<' merges mappings only")
            for k, v in value.items():
                if k not in mapping:
                    mapping[k] = v
                    mapping.lines[k] = getattr(value, "lines", {}).get(k, mapping.line)
                    merged.add(k)


_IN_PROGRESS = object()
_TAB_OUTSIDE_QUOTES = re.compile(r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*')|\t""")


def _untab(text: str) -> str:
    """Turns TABs between tokens into spaces, keeping those inside quotes and in indentation.

    kubectl's YAML parser takes a TAB as separation inside flow collections
    (`args: ["a",<TAB>"b"]`); PyYAML's pure-Python scanner does not.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if "\t" not in line:
            continue
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        lines[i] = indent + _TAB_OUTSIDE_QUOTES.sub(lambda m: m.group(1) or " ", body)
    return "\n".join(lines)


_resolved: dict[tuple[str, bool], str] = {}
_loader_class: type | None = None


def _loader() -> type:
    """The safe loader (libyaml's where PyYAML has it), with implicit resolution memoized.

    Manifests repeat the same plain scalars (keys, label values, kinds) thousands of times,
    and resolving each one runs a handful of regular expressions.
    """
    global _loader_class
    if _loader_class is not None:
        return _loader_class
    import yaml
    from yaml.nodes import ScalarNode

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _Loader(base):  # type: ignore[misc, valid-type]
        def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
            if kind is not ScalarNode or not implicit[0]:
                return super().resolve(kind, value, implicit)
            key = (value, implicit[1])
            tag = _resolved.get(key)
            if tag is None:
                if len(_resolved) > 200_000:
                    _resolved.clear()
                tag = _resolved[key] = super().resolve(kind, value, implicit)
            return tag

    _loader_class = _Loader
    return _Loader


def _compose_all(text: str, file: str, json_like: bool) -> list[Node]:
    import yaml

    loader = _loader()
    try:
        return list(yaml.compose_all(text, Loader=loader))
    except yaml.MarkedYAMLError as exc:
        if "\t" in text and not json_like and not issubclass(loader, yaml.CSafeLoader):
            try:
                return list(yaml.compose_all(_untab(text), Loader=loader))
            except yaml.MarkedYAMLError:
                pass
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{exc.context}: {problem}"
        raise ManifestError(f"invalid YAML: {problem}", Location(file, line)) from None
    except RecursionError:
        raise ManifestError(
            f"the document is nested deeper than {MAX_DEPTH} levels", Location(file, 1)
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", Location(file, 1)) from None


def _python_values(text: str, file: str) -> list[tuple[Any, int]]:
    """(value, first line) of each document, by PyYAML's composer and _Builder."""
    nodes = _compose_all(text, file, file.lower().endswith(".json"))
    values = []
    for node in nodes:
        # Building shares what aliases point to, so it never expands a bomb; the guard needs
        # the expanded size only of a document that reuses a collection, and it wins over any
        # error the build found in that document.
        builder = _Builder(file)
        try:
            value = builder.build(node)
        except ManifestError:
            builder.check_expansion(node)
            raise
        if builder.reused:
            builder.check_expansion(node)
        values.append((value, node.start_mark.line + 1))
    return values


_BOMB = "YAML aliases expand to more than a million values (an alias bomb?)"


# ---- the native reader ---------------------------------------------------------------------
class _NativeError(Exception):
    """What _fastyaml raises: (message, line)."""


def _scalar_hook(tag: str, text: str, plain_implicit: bool, quoted_implicit: bool) -> tuple:
    """An explicitly tagged scalar (or a float, or an unusual int) for the native reader."""
    if tag == "!":  # the non-specific tag: resolved as if untagged, as PyYAML's CParser does
        from yaml.nodes import ScalarNode
        from yaml.resolver import Resolver

        tag = Resolver().resolve(ScalarNode, text, (plain_implicit, quoted_implicit))
    return tag, _construct(tag, text)


try:
    from . import _fastyaml
except ImportError:  # not built: no compiler or no libyaml headers at install time
    _fastyaml = None
else:
    _fastyaml.configure(
        LineDict, LineList, _scalar_hook, _BadScalar, _NativeError, MAX_DEPTH, MAX_EXPANDED
    )


def _native_values(text: str, file: str) -> list[tuple[Any, int]]:
    """(value, first line) of each document, by _fastyaml."""
    try:
        return _fastyaml.parse(text)
    except _NativeError as exc:
        message, line = exc.args
        raise ManifestError(message, Location(file, line)) from None


# ---- documents -----------------------------------------------------------------------------
# `---` then a blank, a TAB or the line's end (`\r` too: in a CRLF file `---\r\n` is a marker).
_MARKER = re.compile(r"^---(?:[ \t\r]|$)")


def _segments(text: str) -> list[tuple[int, int, str]]:
    """(first line, end line, text) of each stretch between `---` markers (0-based lines).

    A document's verbatim text is its stretch, so the comments above a policy stay with it.
    """
    lines = text.splitlines(keepends=True)
    cuts = [i for i, line in enumerate(lines) if _MARKER.match(line)]
    out = []
    bounds = [0, *[c + 1 for c in cuts]]
    ends = [*cuts, len(lines)]
    for lo, hi in zip(bounds, ends, strict=True):
        chunk = lines[lo:hi]
        while chunk and chunk[-1].strip() in ("...", ""):
            chunk = chunk[:-1]
        out.append((lo, hi, "".join(chunk)))
    return out


def _comments_only(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def _on_marker(before: str, marker_line: str, after: str) -> str:
    """The text of a document whose node starts on its `---` line (`--- {kind: Pod, ...}`,
    `--- !!map`, `--- &base`): that line without its marker, then the stretch below it.

    Without the marker, the text is one document however it is stored, exported or joined
    with other texts by `---` lines (the web app lays stored texts out again between `---`
    lines, at their object's line). The comments above the marker come along when nothing
    else is there; a directive (`%YAML`) needs its `---`, so it stays out.
    """
    head = marker_line[3:].lstrip(" \t")
    if head[:3] in ("---", "..."):  # a scalar `---`/`...` at column 0 would read as a marker
        head = " " * (len(marker_line) - len(head)) + head
    return (before if _comments_only(before) else "") + head + after


def _slow_stretch_finder(text: str) -> Callable[[int], str]:
    """_stretch_finder() by splitting the text into lines: the specification of the fast one,
    and the reader of texts that break lines at more than `\n` and `\r\n`."""
    lines = text.splitlines(keepends=True)
    segments = _segments(text)

    def stretch(line0: int) -> str:
        for j, (lo, hi, chunk) in enumerate(segments):
            if lo <= line0 < hi:
                return chunk
            if line0 == hi and j + 1 < len(segments):  # the marker line that ends stretch j
                return _on_marker(chunk, lines[hi], segments[j + 1][2])
        return ""

    return stretch


# Line breaks other than \n and \r\n: str.splitlines() breaks lines there too, so only
# _segments() finds the same stretches as before in a text that has them.
_OTHER_BREAKS = ("\v", "\f", "\x1c", "\x1d", "\x1e")
_OTHER_BREAKS_BEYOND_ASCII = ("\x85", "\u2028", "\u2029")


def _other_breaks(text: str) -> bool:
    # `in` is a memchr; a regular expression over every character of a big file is not.
    if any(b in text for b in _OTHER_BREAKS):
        return True
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return True
    return not text.isascii() and any(b in text for b in _OTHER_BREAKS_BEYOND_ASCII)


def _marker_offsets(text: str) -> list[int]:
    """Where each line matching _MARKER starts (`---`, then a blank, a TAB, a CR or the line's
    end)."""
    offsets = []
    start = 0 if text.startswith("---") else text.find("\n---") + 1
    while start > 0 or (start == 0 and text.startswith("---")):
        after = start + 3
        if after == len(text) or text[after] in " \t\r\n":
            offsets.append(start)
        start = text.find("\n---", start) + 1
        if start == 0:
            break
    return offsets


def _stretch_finder(text: str) -> Callable[[int], str]:
    """line0 (0-based) of a document's node -> the document's text.

    That is the stretch between markers that holds the line (comments above the node
    included), or for a node that starts on its `---` line, _on_marker()'s text. The same as
    _slow_stretch_finder(), without splitting the text into lines: the markers come from one
    multi-line search, a line's stretch from a bisection.
    """
    if _other_breaks(text):
        return _slow_stretch_finder(text)
    offsets = _marker_offsets(text)
    cuts, line, previous = [], 0, 0
    for offset in offsets:
        line += text.count("\n", previous, offset)
        cuts.append(line)
        previous = offset
    total_lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)

    def after_marker(k: int) -> int:  # where the line after marker k starts
        newline = text.find("\n", offsets[k])
        return len(text) if newline < 0 else newline + 1

    def chunk(k: int) -> str:  # stretch k: after marker k-1, before marker k
        start = 0 if k == 0 else after_marker(k - 1)
        piece = text[start : offsets[k] if k < len(offsets) else len(text)]
        while piece:  # without its trailing blank and `...` lines
            cut = piece.rfind("\n", 0, len(piece) - 1)
            if piece[cut + 1 :].strip() not in ("...", ""):
                break
            piece = piece[: cut + 1]
        return piece

    def stretch(line0: int) -> str:
        k = bisect_right(cuts, line0)
        if k > 0 and cuts[k - 1] == line0:
            marker_line = text[offsets[k - 1] : after_marker(k - 1)]
            return _on_marker(chunk(k - 1), marker_line, chunk(k))
        if line0 >= (cuts[k] if k < len(cuts) else total_lines):
            return ""
        return chunk(k)

    return stretch


def _documents(text: str, file: str, read) -> list[Document]:
    if file.lower().endswith(".json"):
        # In JSON a TAB can only be white space between tokens (inside strings it is escaped),
        # and YAML would refuse it as indentation.
        text = text.replace("\t", " ")
    values = read(text, file)
    if not values:
        return []
    stretch = _stretch_finder(text)
    # An empty document (`---` right before another `---`) is located at the next marker:
    # it has no text of its own, and must not take that of the document after it.
    return [
        Document(value, line, "" if value is None else stretch(line - 1)) for value, line in values
    ]


def parse_documents_python(text: str, file: str) -> list[Document]:
    """parse_documents() by the pure-Python reader."""
    return _documents(text, file, _python_values)


def parse_documents_native(text: str, file: str) -> list[Document]:
    """parse_documents() by the native reader; ImportError when it was not built."""
    if _fastyaml is None:
        raise ImportError("policies.engine._fastyaml was not built (see `make install`)")
    return _documents(text, file, _native_values)


def _choose_reader() -> str:
    wanted = os.environ.get("NETVIZ_YAML_READER", "")
    if wanted == "python":
        return "python"
    if wanted == "native" and _fastyaml is None:
        raise ImportError("NETVIZ_YAML_READER=native, but policies.engine._fastyaml is not built")
    if wanted not in ("", "native"):
        raise ValueError(f"NETVIZ_YAML_READER must be native or python, got {wanted!r}")
    return "native" if _fastyaml is not None else "python"


READER = _choose_reader()
_read = _native_values if READER == "native" else _python_values


def parse_documents(text: str, file: str) -> list[Document]:
    """Every document of a YAML (or JSON) text, with lines; raises ManifestError."""
    return _documents(text, file, _read)
