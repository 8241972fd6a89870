"""The one change path for the editor and the API: check, preview, apply, delete, templates,
allow-this-flow, compare and export.

A change is computed against a revision's evaluation (kept in this process by `analysis`):
the edited policies replace the old ones, `reevaluate()` reuses everything they did not
touch, and the diff is the impact. Applying a change stores exactly what its preview
computed, after checking that nobody changed the same policies since the revision the
client started from (its base).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from . import analysis, engine
from .engine.connectivity import reevaluate
from .engine.explain import explain, find_endpoint, one_sided
from .engine.export import clean_policy_yaml, export_policies, export_zip
from .engine.graph import endpoint_label
from .engine.lint import lint
from .engine.manifests import NAMESPACE_LABEL
from .engine.synthesis import allow_flow_plan, render_template
from .errors import InputErrors
from .models import Cluster, Revision
from .revisions import Edit, locked_head, settled_head, write_edit
from .snapshots import AnyPolicy, all_policies, parse_policies, policy_key

__all__ = [
    "EDITOR_FILE",
    "EditCheck",
    "EditConflict",
    "HeadNotAnalysed",
    "NoSuchPolicy",
    "apply_edit",
    "check_edit",
    "compare_revisions",
    "delete_impact",
    "delete_policy",
    "diff_lines",
    "export_yaml",
    "export_zip_bytes",
    "policy_text",
    "preview",
    "suggest_allow_flow",
    "template_yaml",
]

EDITOR_FILE = "editor.yaml"

Key = tuple[str, str]


class NoSuchPolicy(InputErrors):
    """The policy a request names is not in the revision (the API answers 404)."""

    def __init__(self, namespace: str, name: str, revision: Revision) -> None:
        message = f"no policy {namespace}/{name} in revision {revision.number}"
        super().__init__(InputErrors.single(message).errors)


class EditConflict(Exception):
    """Someone else changed a policy of the edit after the revision it started from."""

    def __init__(self, namespace: str, name: str, base: Revision, head: Revision):
        super().__init__(f"{namespace}/{name} was changed in revision {head.number}")
        self.namespace, self.name = namespace, name
        self.base, self.head = base, head
        self.theirs = policy_text(head, namespace, name) or ""
        mine = policy_text(base, namespace, name) or ""
        self.diff = "".join(
            difflib.unified_diff(
                mine.splitlines(keepends=True),
                self.theirs.splitlines(keepends=True),
                f"revision {base.number}",
                f"revision {head.number}",
            )
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "policy": f"{self.namespace}/{self.name}",
            "base_revision": self.base.number,
            "head_revision": self.head.number,
            "author": self.head.author.get_username() if self.head.author else "",
            "message": self.head.message,
            "theirs": self.theirs,
            "diff": self.diff,
        }


class HeadNotAnalysed(Exception):
    """The head is still being analysed by a worker: an edit of it would evaluate it in the
    request (minutes at 50,000 pods, with the cluster locked), so the client asks again when
    the analysis is done (the views answer 409 with its progress)."""

    def __init__(self, head: Revision) -> None:
        super().__init__(f"revision {head.number} is being analysed")
        self.revision = head


def _writable_head(cluster: Cluster) -> Revision:
    """The head an edit applies to, locked until the transaction ends; analysed, or raises."""
    locked_head(cluster)
    head = settled_head(cluster)  # a worker that died leaves the revision before it as head
    if head is None:
        raise InputErrors.single("the cluster has no revision yet")
    if head.is_analysing:
        raise HeadNotAnalysed(head)
    return head


def policy_text(revision: Revision, namespace: str, name: str) -> str | None:
    """One policy's YAML as stored in a revision, or None."""
    return (
        revision.policies.filter(namespace=namespace, name=name)
        .values_list("yaml", flat=True)
        .first()
    )


# --- the change itself -----------------------------------------------------------------------


def _after(
    before: engine.Snapshot, changed: tuple[AnyPolicy, ...], removed: frozenset[Key]
) -> engine.Snapshot:
    """`before` with policies of either scope replaced or removed (by policy_key). Unchanged
    policies and namespaces stay the same objects, so that re-evaluation reuses their work;
    a namespace that only policies implied comes or goes with them, as `engine.assemble`
    would decide."""
    drop = removed | {policy_key(p) for p in changed}

    def merged(kept: tuple[AnyPolicy, ...], kind: type) -> tuple:
        mine = [p for p in changed if isinstance(p, kind)]
        stay = [p for p in kept if policy_key(p) not in drop]
        return tuple(sorted((*stay, *mine), key=lambda p: p.id))

    policies = merged(before.policies, engine.NetworkPolicy)
    cluster_policies = merged(before.cluster_policies, engine.ClusterNetworkPolicy)
    by_name = {n.name: n for n in before.namespaces}
    used = {w.namespace for w in before.workloads} | {p.namespace for p in policies}
    namespaces = [n for n in before.namespaces if n.defined or n.name in used]
    for name in sorted(used - by_name.keys()):
        namespaces.append(engine.Namespace(name, ((NAMESPACE_LABEL, name),), None, defined=False))
    namespaces.sort(key=lambda n: n.name)
    return engine.Snapshot(
        tuple(namespaces), before.workloads, policies, cluster_policies=cluster_policies
    )


def _policy_subjects(keys: set[Key]) -> set[str]:
    """The subjects the linter and the loader give diagnostics about these policies."""
    return (
        {f"NetworkPolicy {ns}/{name}" for ns, name in keys}
        | {f"NetworkPolicy {name}" for _, name in keys}
        | {f"{ns} {name}" for ns, name in keys}  # cluster-scoped: (kind, name)
    )


def preview(
    revision: Revision,
    parsed: engine.Snapshot | None = None,
    removed: frozenset[Key] = frozenset(),
) -> Edit:
    """The edit of `revision` that replaces its policies with those `parsed` from a text and
    removes `removed`: the snapshot after it, its evaluation, its impact and its warnings.

    Nothing is stored; apply_edit() stores exactly this.
    """
    state = analysis.state(revision)
    changed = all_policies(parsed) if parsed is not None else ()
    after = _after(state.snapshot, changed, removed)
    conn = reevaluate(state.conn, after)
    change = engine.diff(state.conn, conn)
    # The text alone has no workloads, so its own lint would say every selector matches
    # nothing: keep only the loader's warnings from it, and lint its policies in context.
    own: list[engine.Diagnostic] = []
    if parsed is not None:
        alone = set(lint(parsed))
        own = [d for d in parsed.diagnostics if d not in alone]
    context = engine.Snapshot(
        after.namespaces,
        after.workloads,
        tuple(p for p in changed if isinstance(p, engine.NetworkPolicy)),
        cluster_policies=tuple(p for p in changed if isinstance(p, engine.ClusterNetworkPolicy)),
    )
    touched = removed | {policy_key(p) for p in changed}
    subjects = _policy_subjects(set(touched))
    kept = [d for d in revision.diagnostics if d.get("subject") not in subjects]
    diagnostics = kept + [d.as_dict() for d in (*own, *lint(context))]
    return Edit(revision, changed, removed, after, conn, change, diagnostics)


@dataclass
class EditCheck:
    """What the editor shows about a text: located problems and, when valid, the impact."""

    valid: bool
    diagnostics: list[dict[str, object]] = field(default_factory=list)
    impact: dict[str, object] | None = None
    summary: str = ""
    policies: list[Key] = field(default_factory=list)
    # When the edit changes no flow: the flows its rules name that the other side still denies.
    why: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "diagnostics": self.diagnostics,
            "impact": self.impact,
            "summary": self.summary,
            "policies": [f"{ns}/{name}" for ns, name in self.policies],
            "why": self.why,
        }


def _editor_diagnostics(diagnostics) -> list[dict[str, object]]:
    """Diagnostics located in the editor's own text, as the editor marks them."""
    return [
        {"severity": d["severity"], "line": d["line"], "path": d["path"], "message": d["message"]}
        for d in diagnostics
        if d["file"] == EDITOR_FILE
    ]


def check_edit(revision: Revision, text: str | bytes, original: Key | None) -> EditCheck:
    """Validate an edited text against a revision and, if valid, what saving it would change.

    `original` is the (namespace, name) the editor opened, if any: renaming a policy removes
    the original.
    """
    try:
        parsed = parse_policies(text, EDITOR_FILE)
    except InputErrors as exc:
        return EditCheck(False, _editor_diagnostics(exc.errors))
    edit = preview(revision, parsed, frozenset({original} if original else ()))
    own = [d for d in edit.diagnostics if d["file"] == EDITOR_FILE]
    names = [policy_key(p) for p in all_policies(parsed)]
    change = edit.change
    why = []
    if not (change.added or change.removed or change.changed):
        edited = [p for p in all_policies(parsed) if isinstance(p, engine.NetworkPolicy)]
        why = [
            {
                "src": o.src,
                "dst": o.dst,
                "blocking": o.blocking.lower(),
                "policies": list(o.policies),
                "message": o.message,
            }
            for o in one_sided(edit.after, edited)
        ]
    return EditCheck(True, _editor_diagnostics(own), change.as_dict(), change.summary(), names, why)


def preview_text(revision: Revision, text: str | bytes, filename: str = "preview.yaml") -> Edit:
    """The edit a text of policies would make to `revision`; InputErrors when invalid."""
    return preview(revision, parse_policies(text, filename))


def _check_base(cluster: Cluster, head: Revision, base_number: int | None, keys) -> None:
    """Raise EditConflict when a policy in `keys` differs between the base and the head."""
    if base_number is None or base_number == head.number:
        return
    base = cluster.revisions.filter(number=base_number).first()
    if base is None or base_number > head.number:
        raise InputErrors.single(f"revision {base_number} does not exist", path="base_revision")
    for namespace, name in keys:
        if policy_text(base, namespace, name) != policy_text(head, namespace, name):
            raise EditConflict(namespace, name, base, head)


def _label(keys) -> str:
    return ", ".join(f"{ns}/{name}" for ns, name in keys)


def apply_edit(
    cluster: Cluster,
    author: AbstractBaseUser,
    text: str | bytes,
    *,
    base_number: int | None = None,
    original: Key | None = None,
    expect: Key | None = None,
    filename: str = EDITOR_FILE,
    message: str = "",
) -> tuple[Revision, Edit, bool]:
    """Save the policies of a text as a new revision: returns it, the edit it stored, and
    whether the text created a policy the head did not have.

    `original`, the policy the editor opened, is removed when the text renames it. `expect`
    (the API's URL) requires the text to be exactly that one policy. With `base_number`,
    raises EditConflict when a policy the edit touches was changed after that revision;
    without it, the edit applies to the head as it is. Raises HeadNotAnalysed while a worker
    analyses the head.
    """
    parsed = parse_policies(text, filename)
    names = [policy_key(p) for p in all_policies(parsed)]
    if expect is not None:
        _expect_one(parsed, expect, filename)
    removed = frozenset({original} - set(names)) if original else frozenset()
    with transaction.atomic():
        head = _writable_head(cluster)
        _check_base(cluster, head, base_number, [*names, *removed])
        existing = set(
            head.policies.filter(namespace__in={ns for ns, _ in names}).values_list(
                "namespace", "name"
            )
        )
        edit = preview(head, parsed, removed)
        revision = write_edit(cluster, author, message or f"Edited {_label(names)}", edit)
    return revision, edit, not set(names) <= existing


def _expect_one(parsed: engine.Snapshot, expect: Key, filename: str) -> None:
    found = all_policies(parsed)
    if len(found) != 1:
        raise InputErrors.single(f"expected exactly one policy, found {len(found)}", filename)
    policy = found[0]
    line = policy.location.line if policy.location else 0
    cluster = isinstance(policy, engine.ClusterNetworkPolicy)
    errors = [
        InputErrors.single(
            f"must be {want!r} to match the URL, got {got!r}", filename, line, path
        ).errors[0]
        for path, want, got in zip(
            ("kind" if cluster else "metadata.namespace", "metadata.name"),
            expect,
            policy_key(policy),
            strict=True,
        )
        if got != want
    ]
    if errors:
        raise InputErrors(errors)


def delete_impact(revision: Revision, namespace: str, name: str) -> dict[str, object]:
    """What deleting one policy would change."""
    edit = preview(revision, None, frozenset({(namespace, name)}))
    return {"impact": edit.change.as_dict(), "summary": edit.change.summary()}


def delete_policy(
    cluster: Cluster,
    author: AbstractBaseUser,
    namespace: str,
    name: str,
    *,
    base_number: int | None = None,
) -> Revision:
    """Delete one policy as a new revision, with the same base check as apply_edit().

    Raises NoSuchPolicy when the head has no such policy.
    """
    with transaction.atomic():
        head = _writable_head(cluster)
        _check_base(cluster, head, base_number, [(namespace, name)])
        if policy_text(head, namespace, name) is None:
            raise NoSuchPolicy(namespace, name, head)
        edit = preview(head, None, frozenset({(namespace, name)}))
        return write_edit(cluster, author, f"Deleted {namespace}/{name}", edit)


# --- new policies ----------------------------------------------------------------------------


def template_yaml(template: str, namespace: str, peer: str = "", port: int = 443) -> str:
    """A new policy from one of the engine's templates."""
    try:
        return render_template(template, namespace, peer=peer, port=port)
    except KeyError:
        raise InputErrors.single(f"unknown template {template!r}") from None


def suggest_allow_flow(revision: Revision, src: str, dst: str, conn: str) -> dict[str, object]:
    """The minimal policies allowing exactly src → dst on `conn`, with their impact."""
    state = analysis.state(revision)
    try:
        source = find_endpoint(state.snapshot, src)
        target = find_endpoint(state.snapshot, dst)
        ports = engine.PortSet.parse(conn) if conn else engine.PortSet.all()
    except ValueError as exc:
        raise InputErrors.single(str(exc)) from None
    if not isinstance(source, engine.Workload) or not isinstance(target, engine.Workload):
        raise InputErrors.single("pick two workloads")
    asked = explain(state.snapshot, source, target, ports)
    plan = allow_flow_plan(state.snapshot, state.conn, asked, source, target)
    # A cluster tier that denies the flow: say which rule, and offer the tier policy that
    # accepts it first (a NetworkPolicy there would change nothing), or point to the rule.
    blocked = [
        {
            "direction": b.direction,
            "policy": b.policy.id,
            "rule": b.decision.label,
            "tier": b.policy.tier,
            "fixed": bool(b.fix),
            "message": b.message,
        }
        for b in plan.blocks
    ]
    note = " ".join(b["message"] for b in blocked)
    if not plan.texts:
        if not blocked:  # no side is isolated, and no tier denies it
            tiered = asked.egress.chain or asked.ingress.chain
            note = "already allowed" if tiered else "already allowed: no side is isolated"
        return {"yaml": "", "impact": None, "summary": "", "note": note, "blocked": blocked}
    text = "---\n".join(plan.texts)
    edit = preview_text(revision, text, EDITOR_FILE)
    return {
        "yaml": text,
        "impact": edit.change.as_dict(),
        "summary": edit.change.summary(),
        "note": note,
        "blocked": blocked,
    }


# --- reading revisions side by side, and out -------------------------------------------------


def compare_revisions(a: Revision, b: Revision, connectivity: bool = True) -> dict[str, object]:
    """Policy YAML diffs and the connectivity diff from revision a to revision b (without
    `connectivity`, the policy diffs alone: a revision not analysed is not evaluated here)."""
    rows_a = {(p.namespace, p.name): p.yaml for p in a.policies.all()}
    rows_b = {(p.namespace, p.name): p.yaml for p in b.policies.all()}
    policies = []
    for key in sorted(set(rows_a) | set(rows_b)):
        old, new = rows_a.get(key), rows_b.get(key)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "changed"
        text = "".join(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                f"revision {a.number}",
                f"revision {b.number}",
            )
        )
        policies.append({"policy": f"{key[0]}/{key[1]}", "status": status, "diff": text})
    policy_diffs = [{**p, "lines": diff_lines(p["diff"])} for p in policies]
    if not connectivity:
        return {"policies": policies, "policy_diffs": policy_diffs}
    change = engine.diff(analysis.state(a).conn, analysis.state(b).conn)
    rows = [("added", f.src.id, f.dst.id, "", str(f.ports)) for f in change.added]
    rows += [("removed", f.src.id, f.dst.id, str(f.ports), "") for f in change.removed]
    rows += [("changed", c.src.id, c.dst.id, str(c.before), str(c.after)) for c in change.changed]
    return {
        "policies": policies,
        "connectivity": change.as_dict(),
        "summary": change.summary(),
        "rows": [
            {
                **dict(zip(("change", "src", "dst", "before", "after"), r, strict=True)),
                "src_label": endpoint_label(r[1]),
                "dst_label": endpoint_label(r[2]),
            }
            for r in rows
        ],
        # the page's form of the diffs: numbered lines, each marked added, removed or kept
        "policy_diffs": policy_diffs,
    }


_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def diff_lines(unified: str) -> list[dict[str, object]]:
    """A unified diff's lines with their numbers in the old and new text and their kind
    (`add`, `del`, `ctx`, `hunk`); the `---`/`+++` file lines are left out."""
    out: list[dict[str, object]] = []
    old = new = 0
    for line in unified.splitlines():
        if line.startswith(("--- ", "+++ ")) and not out:
            continue
        if m := _HUNK.match(line):
            old, new = int(m[1]), int(m[2])
            out.append({"kind": "hunk", "mark": "", "text": line, "old": "", "new": ""})
        elif line.startswith("+"):
            out.append({"kind": "add", "mark": "+", "text": line[1:], "old": "", "new": new})
            new += 1
        elif line.startswith("-"):
            out.append({"kind": "del", "mark": "-", "text": line[1:], "old": old, "new": ""})
            old += 1
        elif line.startswith("\\"):
            continue  # "no newline at end of file"
        else:
            out.append({"kind": "ctx", "mark": "", "text": line[1:], "old": old, "new": new})
            old += 1
            new += 1
    return out


def export_yaml(revision: Revision, policy: Key | None = None) -> str:
    """Clean YAML for kubectl apply: one policy, or all of them as one stream (each as the
    user wrote it, comments kept, less any server-side fields a `kubectl get` carried)."""
    if policy is not None:
        text = policy_text(revision, *policy)
        if text is None:
            raise NoSuchPolicy(*policy, revision)
        return clean_policy_yaml(text, f"{policy[0]}/{policy[1]}.yaml")
    return export_policies(revision.policies.order_by("namespace", "name"))


def export_zip_bytes(revision: Revision) -> bytes:
    """A zip with one clean YAML file per namespace."""
    return export_zip(revision.policies.order_by("namespace", "name"))
