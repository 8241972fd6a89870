"""Editing policies in the browser: validate while typing, preview the impact, save without
losing anyone's change, revert, compare revisions, export.

Revisions never change once written, so the engine's evaluation of one is kept in this
process (graphs.analysis) and reused by every keystroke's preview: a cache, not state, since
any process can rebuild it from the database.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from . import engine, graphs
from .engine.connectivity import Connectivity, reevaluate
from .engine.explain import find_endpoint
from .engine.export import clean_policy_yaml, export_policies, export_zip
from .engine.lint import lint
from .engine.synthesis import allow_flow, render_template
from .models import Cluster, Revision
from .services import (
    InputErrors,
    _edited_snapshot,
    _locked_head,
    _write_revision,
    revision_snapshot,
)

__all__ = [
    "EditCheck",
    "EditConflict",
    "check_edit",
    "compare_revisions",
    "delete_edit",
    "export_revision_yaml",
    "export_revision_zip",
    "impact_summary",
    "revert_to",
    "revision_state",
    "save_edit",
    "suggest_allow_flow",
    "template_yaml",
]

EDITOR_FILE = "editor.yaml"


def revision_state(revision: Revision) -> tuple[engine.Snapshot, Connectivity]:
    """The snapshot and evaluation of a revision, kept in this process for the next request
    (the same memo the graph uses, so a preview reuses the graph's evaluation)."""
    analysis = graphs.analysis(revision)
    return analysis.snapshot, analysis.conn


@dataclass
class EditCheck:
    """What the editor shows about a text: located problems and, when valid, the impact."""

    valid: bool
    diagnostics: list[dict[str, object]] = field(default_factory=list)
    impact: dict[str, object] | None = None
    summary: str = ""
    policies: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "diagnostics": self.diagnostics,
            "impact": self.impact,
            "summary": self.summary,
            "policies": [f"{ns}/{name}" for ns, name in self.policies],
        }


class EditConflict(Exception):
    """Someone else changed the policy since the editor loaded it."""

    def __init__(self, namespace: str, name: str, base: Revision, head: Revision, theirs: str):
        super().__init__(f"{namespace}/{name} was changed in revision {head.number}")
        self.namespace, self.name = namespace, name
        self.base, self.head = base, head
        self.theirs = theirs
        mine = base.policies.filter(namespace=namespace, name=name).values_list("yaml", flat=True)
        self.diff = "".join(
            difflib.unified_diff(
                (mine.first() or "").splitlines(keepends=True),
                theirs.splitlines(keepends=True),
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


def _editor_diagnostics(diags) -> list[dict[str, object]]:
    return [
        {
            "severity": d.severity,
            "line": d.location.line,
            "path": d.location.path,
            "message": d.message,
        }
        for d in diags
        if d.location.file == EDITOR_FILE
    ]


def _parse_editor_text(text: str) -> tuple[engine.Snapshot | None, list[dict[str, object]]]:
    try:
        parsed = engine.load_documents([(EDITOR_FILE, text)])
    except engine.ManifestErrors as exc:
        return None, _editor_diagnostics(e.as_diagnostic() for e in exc.errors)
    errors = [
        {"severity": "error", "line": w.location.line if w.location else 0, "path": "kind",
         "message": f"only NetworkPolicy objects can be edited here, not {w.kind}"}
        for w in parsed.workloads
    ]  # fmt: skip
    if not parsed.policies and not errors:
        errors.append(
            {"severity": "error", "line": 1, "path": "", "message": "no NetworkPolicy here"}
        )
    return (None if errors else parsed), errors


def _after(
    before: engine.Snapshot,
    changed: tuple[engine.NetworkPolicy, ...],
    removed: set[tuple[str, str]],
) -> engine.Snapshot:
    """`before` with policies replaced or removed; unchanged policies stay the same objects,
    so that re-evaluation reuses their work."""
    drop = removed | {(p.namespace, p.name) for p in changed}
    kept = [p for p in before.policies if (p.namespace, p.name) not in drop]
    if {p.namespace for p in changed} <= {n.name for n in before.namespaces}:
        policies = tuple(sorted((*kept, *changed), key=lambda p: p.id))
        return engine.Snapshot(before.namespaces, before.workloads, policies)
    defined = [n for n in before.namespaces if n.defined]
    return engine.assemble(defined, before.workloads, (*kept, *changed))


def _impact(before_conn: Connectivity, after: engine.Snapshot) -> tuple[dict, str]:
    change = engine.diff(before_conn, reevaluate(before_conn, after))
    return change.as_dict(), change.summary()


def check_edit(revision: Revision, text: str, original: tuple[str, str] | None) -> EditCheck:
    """Validate an edited text against a revision, and if valid, what saving it would change.

    `original` is the (namespace, name) the editor opened, if any: renaming a policy removes
    the original.
    """
    parsed, errors = _parse_editor_text(text)
    if parsed is None:
        return EditCheck(False, errors)
    before, conn = revision_state(revision)
    removed = {original} if original else set()
    after = _after(before, parsed.policies, removed)
    names = [(p.namespace, p.name) for p in parsed.policies]
    # The text alone has no workloads, so its own lint would say every selector matches
    # nothing: keep only the loader's warnings from it, and lint the policies in the
    # cluster's context instead.
    alone = set(lint(parsed))
    own = [d for d in parsed.diagnostics if d not in alone]
    defined = [n for n in after.namespaces if n.defined]
    in_context = engine.assemble(defined, after.workloads, parsed.policies).warnings
    warnings = _editor_diagnostics(own) + _editor_diagnostics(in_context)
    impact, summary = _impact(conn, after)
    return EditCheck(True, warnings, impact, summary, names)


def _policy_text(revision: Revision, namespace: str, name: str) -> str | None:
    return (
        revision.policies.filter(namespace=namespace, name=name)
        .values_list("yaml", flat=True)
        .first()
    )


def _check_conflict(cluster: Cluster, head: Revision, base_number: int, keys) -> None:
    if base_number == head.number:
        return
    base = cluster.revisions.filter(number=base_number).first()
    if base is None:
        raise InputErrors.single(f"revision {base_number} does not exist", EDITOR_FILE)
    for namespace, name in keys:
        theirs = _policy_text(head, namespace, name)
        if _policy_text(base, namespace, name) != theirs:
            raise EditConflict(namespace, name, base, head, theirs or "")


def save_edit(
    cluster: Cluster,
    author: AbstractBaseUser,
    text: str,
    *,
    base_number: int,
    original: tuple[str, str] | None = None,
    message: str = "",
) -> tuple[Revision, str]:
    """Save the editor's policies as a new revision; returns it and its impact summary.

    Raises InputErrors for an invalid text and EditConflict when a policy it touches was
    changed by someone else after revision `base_number` (the one the editor loaded).
    """
    parsed, errors = _parse_editor_text(text)
    if parsed is None:
        raise InputErrors([{**e, "file": EDITOR_FILE} for e in errors])
    names = [(p.namespace, p.name) for p in parsed.policies]
    removed = [original] if original and original not in names else []
    with transaction.atomic():
        head = _locked_head(cluster)
        assert head is not None
        _check_conflict(cluster, head, base_number, [*names, *removed])
        before, conn = revision_state(head)
        after = _after(before, parsed.policies, set(removed))
        after_conn = reevaluate(conn, after)
        summary = engine.diff(conn, after_conn).summary()
        label = ", ".join(f"{ns}/{n}" for ns, n in names)
        snapshot, origins = _edited_snapshot(head, changed=parsed.policies, removed=removed)
        # The new revision's graph comes from the evaluation made for the impact.
        revision = _write_revision(
            cluster,
            author,
            message or f"Edited {label}",
            snapshot,
            head=head,
            origins=origins,
            conn=after_conn,
        )
    return revision, summary


def delete_edit(
    cluster: Cluster, author: AbstractBaseUser, namespace: str, name: str, *, base_number: int
) -> Revision:
    """Delete one policy as a new revision (with the same conflict check as a save)."""
    with transaction.atomic():
        head = _locked_head(cluster)
        assert head is not None
        _check_conflict(cluster, head, base_number, [(namespace, name)])
        if _policy_text(head, namespace, name) is None:
            raise InputErrors.single(f"no policy {namespace}/{name} in revision {head.number}")
        snapshot, origins = _edited_snapshot(head, removed=[(namespace, name)])
        revision = _write_revision(
            cluster, author, f"Deleted {namespace}/{name}", snapshot, head=head, origins=origins
        )
    return revision


def delete_impact(revision: Revision, namespace: str, name: str) -> dict[str, object]:
    """What deleting one policy would change."""
    before, conn = revision_state(revision)
    impact, summary = _impact(conn, _after(before, (), {(namespace, name)}))
    return {"impact": impact, "summary": summary}


def revert_to(cluster: Cluster, author: AbstractBaseUser, number: int) -> Revision:
    """A new revision whose content is that of revision `number` (history is kept)."""
    with transaction.atomic():
        head = _locked_head(cluster)
        target = cluster.revisions.get(number=number)
        snapshot = revision_snapshot(target)
        origins = {
            (row.namespace, row.name): (row.source_file, row.line) for row in target.policies.all()
        }
        revision = _write_revision(
            cluster, author, f"Reverted to revision {number}", snapshot, head=head, origins=origins
        )
    return revision


def impact_summary(revision: Revision) -> str:
    """`+added -removed ~changed` flows against the previous revision ('' for the first)."""
    if revision.parent is None:
        return ""
    _, before = revision_state(revision.parent)
    _, after = revision_state(revision)
    return engine.diff(before, after).summary()


def compare_revisions(a: Revision, b: Revision) -> dict[str, object]:
    """Policy YAML diffs and the connectivity diff from revision a to revision b."""
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
    _, conn_a = revision_state(a)
    _, conn_b = revision_state(b)
    change = engine.diff(conn_a, conn_b)
    rows = [("added", f.src.id, f.dst.id, "", str(f.ports)) for f in change.added]
    rows += [("removed", f.src.id, f.dst.id, str(f.ports), "") for f in change.removed]
    rows += [("changed", c.src.id, c.dst.id, str(c.before), str(c.after)) for c in change.changed]
    return {
        "policies": policies,
        "connectivity": change.as_dict(),
        "summary": change.summary(),
        "rows": [
            dict(zip(("change", "src", "dst", "before", "after"), r, strict=True)) for r in rows
        ],
    }


def export_revision_yaml(revision: Revision, policy: tuple[str, str] | None = None) -> str:
    """Clean YAML for kubectl apply: one policy, or all of them as one stream."""
    if policy is not None:
        text = _policy_text(revision, *policy)
        if text is None:
            raise InputErrors.single(f"no policy {policy[0]}/{policy[1]}")
        return clean_policy_yaml(text, f"{policy[0]}/{policy[1]}.yaml")
    snapshot, _ = revision_state(revision)
    return export_policies(snapshot.policies)


def export_revision_zip(revision: Revision) -> bytes:
    """A zip with one clean YAML file per namespace."""
    snapshot, _ = revision_state(revision)
    return export_zip(snapshot.policies)


def template_yaml(template: str, namespace: str, peer: str = "", port: int = 443) -> str:
    """A new policy from one of the engine's templates."""
    try:
        return render_template(template, namespace, peer=peer, port=port)
    except KeyError:
        raise InputErrors.single(f"unknown template {template!r}") from None


def suggest_allow_flow(revision: Revision, src: str, dst: str, conn: str) -> dict[str, object]:
    """The minimal policies allowing exactly src → dst on `conn`, with their impact."""
    snapshot, evaluation = revision_state(revision)
    try:
        source = find_endpoint(snapshot, src)
        target = find_endpoint(snapshot, dst)
        ports = engine.PortSet.parse(conn) if conn else engine.PortSet.all()
    except ValueError as exc:
        raise InputErrors.single(str(exc)) from None
    if not isinstance(source, engine.Workload) or not isinstance(target, engine.Workload):
        raise InputErrors.single("pick two workloads")
    texts = allow_flow(snapshot, evaluation, source, target, ports)
    if not texts:
        return {
            "yaml": "",
            "impact": None,
            "summary": "",
            "note": "already allowed: no side is isolated",
        }
    text = "---\n".join(texts)
    parsed = engine.load_documents([(EDITOR_FILE, text)])
    impact, summary = _impact(evaluation, _after(snapshot, parsed.policies, set()))
    return {"yaml": text, "impact": impact, "summary": summary, "note": ""}
