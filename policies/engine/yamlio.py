"""YAML and JSON text → Python values that remember the line of every key and item.

PyYAML composes a node tree (libyaml's C parser where installed: several times faster, and it
accepts a TAB between flow-sequence items as kubectl does); we build plain dicts and lists
from it ourselves, so that every value keeps its line and the size of what aliases would
expand to is known before anything walks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ManifestError
from .model import Location

__all__ = ["MAX_DEPTH", "MAX_EXPANDED", "Document", "LineDict", "LineList", "parse_documents"]

try:
    _Base: type = yaml.CSafeLoader
    HAVE_LIBYAML = True
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader
    HAVE_LIBYAML = False

_RESOLVED: dict[tuple[str, bool], str] = {}


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, with implicit tag resolution memoized.

    Manifests repeat the same plain scalars (keys, label values, kinds) thousands of times,
    and resolving each one runs a handful of regular expressions.
    """

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is not ScalarNode or not implicit[0]:
            return super().resolve(kind, value, implicit)
        key = (value, implicit[1])
        tag = _RESOLVED.get(key)
        if tag is None:
            if len(_RESOLVED) > 200_000:
                _RESOLVED.clear()
            tag = _RESOLVED[key] = super().resolve(kind, value, implicit)
        return tag


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


_constructor = SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    if tag == _STR:
        return node.value
    if tag == _INT:
        return _constructor.construct_yaml_int(node)
    if tag == _BOOL:
        return _constructor.construct_yaml_bool(node)
    if tag == _NULL:
        return None
    if tag == _FLOAT:
        return _constructor.construct_yaml_float(node)
    # Timestamps, binary and custom tags stay the text the user wrote.
    return node.value


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.built: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}

    def error(self, node: Node, message: str) -> ManifestError:
        return ManifestError(message, Location(self.file, node.start_mark.line + 1))

    def expanded_size(self, node: Node) -> int:
        """Nodes the document holds once every alias is expanded (memoized per node)."""
        key = id(node)
        size = self.sizes.get(key)
        if size is not None:
            return size
        self.sizes[key] = 1  # a recursive alias counts once; it is rejected in build()
        if isinstance(node, MappingNode):
            size = 1 + sum(self.expanded_size(k) + self.expanded_size(v) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            size = 1 + sum(self.expanded_size(v) for v in node.value)
        else:
            size = 1
        self.sizes[key] = min(size, MAX_EXPANDED + 1)
        return self.sizes[key]

    def build(self, node: Node, depth: int = 0) -> Any:
        if isinstance(node, ScalarNode):
            return _scalar(node)
        key = id(node)
        if key in self.built:
            if self.built[key] is _IN_PROGRESS:
                raise self.error(node, "a YAML alias refers to its own parent (recursive)")
            return self.built[key]
        if depth > MAX_DEPTH:
            raise self.error(node, f"the document is nested deeper than {MAX_DEPTH} levels")
        self.built[key] = _IN_PROGRESS
        line = node.start_mark.line + 1
        if isinstance(node, SequenceNode):
            seq = LineList(line)
            for item in node.value:
                seq.append(self.build(item, depth + 1))
                seq.lines.append(item.start_mark.line + 1)
            self.built[key] = seq
            return seq
        mapping = LineDict(line)
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self._merge(mapping, value_node, depth)
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node, "a mapping key must be a plain value")
            k = _scalar(key_node)
            if k in mapping.lines and k in mapping:
                raise self.error(key_node, f"duplicate key {k!r}")
            mapping[k] = self.build(value_node, depth + 1)
            mapping.lines[k] = key_node.start_mark.line + 1
        self.built[key] = mapping
        return mapping

    def _merge(self, mapping: LineDict, value_node: Node, depth: int) -> None:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            merged = self.build(source, depth + 1)
            if not isinstance(merged, dict):
                raise self.error(source, "'<<' merges mappings only")
            for k, v in merged.items():
                if k not in mapping:
                    mapping[k] = v
                    mapping.lines[k] = getattr(merged, "lines", {}).get(k, mapping.line)


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


_MARKER = re.compile(r"^---(?:[ \t]|$)")


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


def _compose_all(text: str, file: str, json_like: bool) -> list[Node]:
    try:
        return list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        if "\t" in text and not json_like and not HAVE_LIBYAML:
            try:
                return list(yaml.compose_all(_untab(text), Loader=_Loader))
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


def parse_documents(text: str, file: str) -> list[Document]:
    """Every document of a YAML (or JSON) text, with lines; raises ManifestError."""
    json_like = file.lower().endswith(".json")
    if json_like:
        # In JSON a TAB can only be white space between tokens (inside strings it is escaped),
        # and YAML would refuse it as indentation.
        text = text.replace("\t", " ")
    nodes = _compose_all(text, file, json_like)
    segments = _segments(text) if nodes else []
    docs = []
    for node in nodes:
        if node is None:
            continue
        line0 = node.start_mark.line
        doc_text = next((t for lo, hi, t in segments if lo <= line0 < hi), "")
        builder = _Builder(file)
        # Only anchored nodes can be expanded by aliases; most manifests have none.
        if "&" in doc_text and builder.expanded_size(node) > MAX_EXPANDED:
            raise ManifestError(
                "YAML aliases expand to more than a million values (an alias bomb?)",
                Location(file, node.start_mark.line + 1),
            )
        docs.append(Document(builder.build(node), line0 + 1, doc_text))
    return docs
