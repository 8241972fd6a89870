"""A generator of hostile manifests and archives, for every channel that takes them.

Each case is a set of files as a user could send them; `archive` cases only make sense where
archives are taken (the upload form and the API's upload). `yamlio_guard` marks the alias
bombs whose documents start on a `---` line: at this base the YAML reader's expansion guard
misses them (issue 13 item 1, fixed on the YAML reader's own branch), so they run only
behind a subprocess with a time and memory limit.
"""

from __future__ import annotations

import io
import os
import random
import stat
import tarfile
import warnings
import zipfile
from dataclasses import dataclass, field

__all__ = ["Case", "archive_cases", "manifest_cases"]


@dataclass(frozen=True)
class Case:
    name: str
    files: tuple[tuple[str, bytes], ...]
    archive: bool = False
    yamlio_guard: bool = False
    # settings the web channels run the case under (small caps keep bombs cheap)
    settings: dict[str, int] = field(default_factory=dict)

    @property
    def text(self) -> bytes:
        """The files as one text, for channels that take one (the editor, the API's PUT)."""
        return b"\n---\n".join(content for _, content in self.files)


def _policy(name: str = "p", namespace: str = "shop", extra: str = "") -> str:
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec:\n  podSelector: {{}}\n  policyTypes: [Ingress]\n{extra}"
    )


def _one(name: str, text: str | bytes, **kwargs) -> Case:
    data = text.encode() if isinstance(text, str) else text
    return Case(name, ((f"{name}.yaml", data),), **kwargs)


def _laughs(levels: int = 9, width: int = 9, indent: str = "") -> str:
    lines = [f"{indent}a0: &a0 [lol]"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"{indent}a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _bomb_in_policy(prefix: str = "") -> str:
    """A policy inside a List whose item refers to the last anchor of a bomb."""
    return (
        f"{prefix}apiVersion: v1\nkind: List\nbomb:\n{_laughs(indent='  ')}items:\n"
        "- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n"
        "  metadata: {name: p, namespace: shop}\n  spec: {podSelector: {}}\n  x: *a9\n"
    )


def _alias_bombs() -> list[Case]:
    map_bomb = ["m0: &m0 {k: v}"] + [
        f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(9)) + "}"
        for i in range(1, 10)
    ]
    merge_bomb = ["b0: &b0 {x: 1, y: 2}"] + [
        f"b{i}: &b{i} {{<<: [*b{i - 1}], z{i}: [*b{i - 1}, *b{i - 1}, *b{i - 1}, *b{i - 1}]}}"
        for i in range(1, 14)
    ]
    labels_bomb = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: &l {a: b}\n"
        f"anchors:\n{_laughs(indent='  ')}spec: {{containers: *a9}}\n"
    )
    return [
        _one("bomb-sequences", _laughs() + _policy()),
        _one("bomb-mappings", "\n".join(map_bomb) + "\n" + _policy()),
        _one("bomb-merge-keys", "\n".join(merge_bomb) + "\n" + _policy()),
        _one("bomb-flow", "{" + _laughs().replace("\n", ", ").rstrip(", ") + "}\n"),
        _one("bomb-in-a-list-item", _bomb_in_policy()),
        _one("bomb-in-a-workload", labels_bomb),
        _one("bomb-after-a-marker-line", "---\n" + _bomb_in_policy()),
        _one("bomb-in-a-second-document", _policy() + "---\n" + _bomb_in_policy()),
        # Documents whose first node starts on the `---` line itself (issue 13 item 1).
        _one("bomb-starting-on-the-marker", _bomb_in_policy("--- &r\n"), yamlio_guard=True),
        _one(
            "bomb-starting-on-a-later-marker",
            _policy() + "\n" + _bomb_in_policy("--- &r\n"),
            yamlio_guard=True,
        ),
        _one("recursive-alias", "a: &a [*a]\n" + _policy()),
    ]


def _nesting() -> list[Case]:
    depth = 5000
    return [
        _one("deep-flow-sequences", "a: " + "[" * depth + "]" * depth + "\n"),
        _one("deep-flow-mappings", "a: " + "{a: " * depth + "1" + "}" * depth + "\n"),
        # Block nesting costs its indentation: 500 levels are already eight times the limit.
        _one(
            "deep-block-mappings",
            "".join("  " * i + "a:\n" for i in range(500)) + "  " * 500 + "b\n",
        ),
        _one(
            "deep-block-sequences",
            "".join("  " * i + "- \n" for i in range(500)) + "  " * 500 + "x\n",
        ),
        Case("deep-json", (("deep.json", b"[" * depth + b"]" * depth),)),
        _one(
            "deep-selector",
            _policy(
                extra="  ingress: [{from: [{podSelector: "
                + "{matchLabels: " * 200
                + "{}"
                + "}" * 200
                + "}]}]\n"
            ),
        ),
    ]


def _huge() -> list[Case]:
    mb = 1024 * 1024
    return [
        _one(
            "huge-label-value",
            _policy().replace(
                "podSelector: {}", f"podSelector: {{matchLabels: {{app: {'v' * (2 * mb)}}}}}"
            ),
        ),
        _one("huge-name", _policy(name="n" * (2 * mb))),
        _one("huge-comment", "# " + "c" * (4 * mb) + "\n" + _policy()),
        _one("huge-key", _policy() + "k" * mb + ": 1\n"),
        _one("huge-single-line-of-flow", "[" + ", ".join(["x"] * 100_000) + "]\n"),
        _one("huge-number-of-documents", "---\n".join([_policy(f"p{i}") for i in range(2000)])),
        _one("huge-integer", _policy(extra="  ingress: [{ports: [{port: " + "9" * 5000 + "}]}]\n")),
    ]


def _junk() -> list[Case]:
    rng = random.Random(13)
    return [
        _one("random-bytes", bytes(rng.randrange(256) for _ in range(64 * 1024))),
        _one("nul-bytes", b"\0" * 4096),
        _one("png-header", b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(1024))),
        _one("invalid-utf8-in-a-comment", _policy().encode() + b"# caf\xe9\n"),
        _one("invalid-utf8-in-a-value", _policy().encode().replace(b"name: p", b"name: p\xff")),
        _one("latin1-file", "# Café\n".encode("latin-1") + _policy().encode()),
        _one("utf16-file", _policy().encode("utf-16")),
        _one("control-characters", _policy().replace("name: p", "name: p\x07\x1b")),
        _one("only-a-bom", b"\xef\xbb\xbf"),
        _one("empty", b""),
        _one("python-tag", "!!python/object/apply:os.system ['true']\n"),
        _one(
            "custom-tags", _policy().replace("kind: NetworkPolicy", "kind: !Custom NetworkPolicy")
        ),
        _one("tabs", _policy().replace("  ", "\t")),
        _one("windows-newlines", _policy().replace("\n", "\r\n")),
        _one("lone-carriage-returns", _policy().replace("\n", "\r")),
    ]


def _values() -> list[Case]:
    ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
    return [
        _one(
            "duplicate-keys",
            _policy().replace("  podSelector: {}", "  podSelector: {}\n  podSelector: {}"),
        ),
        _one("duplicate-metadata-name", _policy().replace("name: p,", "name: p, name: q,")),
        _one(
            "replicas-too-large",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {replicas: 99999999999}\n",
        ),
        _one(
            "replicas-negative",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {replicas: -1}\n",
        ),
        _one(
            "replicas-float",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {replicas: 1e400}\n",
        ),
        _one(
            "replicas-nan",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {replicas: .nan}\n",
        ),
        _one(
            "port-out-of-range",
            _policy(extra="  ingress: [{ports: [{port: 70000}, {port: 0}, {port: -1}]}]\n"),
        ),
        _one(
            "end-port-before-port",
            _policy(extra="  ingress: [{ports: [{port: 90, endPort: 80}]}]\n"),
        ),
        _one(
            "container-port-huge",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {containers: [{name: c, ports: [{containerPort: 4294967297}]}]}\n",
        ),
        _one(
            "cidr-with-a-zone",
            _policy(extra="  ingress: [{from: [{ipBlock: {cidr: 'fe80::1%eth0/64'}}]}]\n"),
        ),
        _one(
            "cidr-without-a-prefix",
            _policy(extra="  ingress: [{from: [{ipBlock: {cidr: 10.0.0.1}}]}]\n"),
        ),
        _one(
            "cidr-garbage",
            _policy(
                extra="  ingress: [{from: [{ipBlock: {cidr: '10.0.0.0/8/8', except: ['::/0', 'x', 5, null]}}]}]\n"
            ),
        ),
        _one(
            "cidr-prefix-too-long",
            _policy(extra="  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]\n"),
        ),
        _one("name-with-a-slash", ns + _policy(name="a/b", namespace="x/y")),
        _one("name-with-a-nul-escape", _policy(name='"a\\0b"')),
        _one(
            "label-with-a-nul-escape",
            _policy().replace("podSelector: {}", 'podSelector: {matchLabels: {app: "a\\0b"}}'),
        ),
        _one(
            "kind-with-a-nul-escape",
            'apiVersion: v1\nkind: "Odd\\0Kind"\nmetadata: {name: "x\\0"}\n---\n' + _policy(),
        ),
        _one(
            "owner-kind-too-long",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w\n  ownerReferences: [{kind: "
            + "K" * 65
            + ", name: web, controller: true}]\n",
        ),
        _one(
            "owner-name-with-a-slash",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w\n  ownerReferences: [{kind: ReplicaSet, name: 'a/b', controller: true}]\n",
        ),
        _one(
            "names-too-long", ns + _policy(name="n" * 254) + "---\n" + _policy(namespace="s" * 64)
        ),
        _one(
            "wrong-types-everywhere",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: [1], namespace: {a: 1}, labels: [x]}\nspec: {podSelector: 5, policyTypes: {a: 1}, ingress: 5, egress: [5, [1], {to: 5, ports: 5}]}\n",
        ),
        _one(
            "list-of-junk",
            "apiVersion: v1\nkind: List\nitems: [1, null, [2], {kind: 5}, {kind: NetworkPolicyList, items: {}}]\n",
        ),
        _one("kind-not-a-string", "apiVersion: v1\nkind: [NetworkPolicy]\nmetadata: {name: p}\n"),
        _one("a-clean-policy", ns + _policy()),  # the control: loads and stores
    ]


def manifest_cases() -> list[Case]:
    """Hostile manifests (and one clean control), each as one or more files."""
    return [*_alias_bombs(), *_nesting(), *_huge(), *_junk(), *_values()]


# --- archives ---------------------------------------------------------------------------------


def _zip(entries: list[tuple[str, bytes]], **info) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # duplicate names are one of the tricks
        for name, content in entries:
            item = zipfile.ZipInfo(name)
            for key, value in info.items():
                setattr(item, key, value)
            item.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(item, content)
    return buffer.getvalue()


def _tar(members: list[tarfile.TarInfo], contents: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            data = (contents or {}).get(member.name)
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


def _zip_bomb(size: int) -> bytes:
    buffer = io.BytesIO()
    chunk = b" " * (1024 * 1024)
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("bomb.yaml", "w", force_zip64=True) as entry,
    ):
        for _ in range(size // len(chunk)):
            entry.write(chunk)
    return buffer.getvalue()


def _lying_zip() -> bytes:
    """A zip whose central directory says its entry is tiny."""
    data = bytearray(_zip([("small.yaml", b"# " + b"x" * 200_000)]))
    directory = data.rfind(b"PK\x01\x02")
    data[directory + 24 : directory + 28] = (10).to_bytes(4, "little")  # uncompressed size
    return bytes(data)


def archive_cases() -> list[Case]:
    """Archive tricks: escaping paths, links, devices, bombs, lies, and many tiny files."""
    policy = _policy().encode()
    small = {"NETVIZ_MAX_UNPACKED_BYTES": 2 * 1024 * 1024}
    tar_policy = _member("ok/p.yaml", size=len(policy))

    def case(name: str, filename: str, data: bytes, **kwargs) -> Case:
        return Case(name, ((filename, data),), archive=True, **kwargs)

    return [
        case("zip-parent-path", "a.zip", _zip([("../../etc/p.yaml", policy)])),
        case("zip-absolute-path", "a.zip", _zip([("/etc/p.yaml", policy)])),
        case("zip-windows-path", "a.zip", _zip([("C:\\\\evil\\p.yaml", policy)])),
        case(
            "zip-symlink",
            "a.zip",
            _zip([("link.yaml", b"/etc/passwd")], external_attr=(stat.S_IFLNK | 0o777) << 16),
        ),
        case("zip-encrypted-flag", "a.zip", _zip([("p.yaml", policy)], flag_bits=0x1)),
        case("zip-path-too-long", "a.zip", _zip([("d/" * 600 + "p.yaml", policy)])),
        case(
            "zip-nested-archive",
            "a.zip",
            _zip([("inner.zip", _zip([("p.yaml", policy)])), ("p.yaml", policy)]),
        ),
        case("zip-duplicate-names", "a.zip", _zip([("p.yaml", policy), ("p.yaml", b"junk: [")])),
        case("zip-bomb", "bomb.zip", _zip_bomb(8 * 1024 * 1024), settings=small),
        case("zip-lying-sizes", "lie.zip", _lying_zip()),
        case("zip-truncated", "cut.zip", _zip([("p.yaml", policy)])[:-30]),
        case("zip-garbage", "junk.zip", os.urandom(4096)),
        case(
            "zip-many-tiny-files",
            "many.zip",
            _zip([(f"f{i}.yaml", b"# tiny\n") for i in range(3000)]),
        ),
        case(
            "zip-too-many-entries",
            "many.zip",
            _zip([(f"f{i}.yaml", b"") for i in range(60)]),
            settings={"NETVIZ_MAX_ARCHIVE_ENTRIES": 50},
        ),
        case(
            "tar-parent-path",
            "a.tar.gz",
            _tar([_member("../p.yaml", size=len(policy))], {"../p.yaml": policy}),
        ),
        case(
            "tar-symlink",
            "a.tar.gz",
            _tar([_member("l.yaml", tarfile.SYMTYPE, link="/etc/passwd")]),
        ),
        case(
            "tar-hardlink",
            "a.tar.gz",
            _tar(
                [tar_policy, _member("h.yaml", tarfile.LNKTYPE, link="ok/p.yaml")],
                {"ok/p.yaml": policy},
            ),
        ),
        case("tar-device", "a.tar.gz", _tar([_member("dev.yaml", tarfile.CHRTYPE)])),
        case("tar-fifo", "a.tar.gz", _tar([_member("fifo.yaml", tarfile.FIFOTYPE)])),
        case("tar-truncated", "cut.tar.gz", _tar([tar_policy], {"ok/p.yaml": policy})[:-20]),
        case(
            "tar-bomb",
            "bomb.tar.gz",
            _tar(
                [_member("big.yaml", size=8 * 1024 * 1024)], {"big.yaml": b" " * (8 * 1024 * 1024)}
            ),
            settings=small,
        ),
        case("tar-clean", "ok.tar.gz", _tar([tar_policy], {"ok/p.yaml": policy})),  # control
        Case(
            "many-tiny-uploaded-files",
            tuple((f"f{i}.yaml", b"# tiny\n") for i in range(60)),
            archive=True,
            settings={"DATA_UPLOAD_MAX_NUMBER_FILES": 50},
        ),
    ]
