"""Every stored text round-trips: the text kept for an object (what the web app stores per
policy, what the CLI and the export show) parses back to the same object.

Over every input of the shared corpus (cases and admin-cases, CRLF files among them) and of
both demos, through both readers; then, one level up, every policy the loader reads from them,
loaded again from its own source alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policies.engine import load_documents, load_paths
from policies.engine.export import export_policies
from tests.meaning import bare

from .helpers import READERS

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("NETVIZ_CORPUS", REPO.parent / "shared" / "corpus"))
DEMOS = [REPO / "policies" / "demo", REPO / "policies" / "demo-kustomize"]
SUFFIXES = (".yaml", ".yml", ".json")
INPUTS = sorted(
    p
    for root in [*(CORPUS / sub for sub in ("cases", "admin-cases")), *DEMOS]
    for p in root.rglob("*")
    if p.is_file() and p.suffix in SUFFIXES and "expected" not in p.name
)
CASES = sorted(
    p.parent for sub in ("cases", "admin-cases") for p in (CORPUS / sub).glob("*/expected.json")
)


def _name(path: Path) -> str:
    for root in (CORPUS, REPO):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)


def test_the_inputs_are_there() -> None:
    if not CASES:
        pytest.skip(f"no corpus at {CORPUS}")
    # the corpus's CRLF files with `---\r\n` markers are what the fix of CRLF texts is for
    crlf = [p for p in INPUTS if b"\n---\r\n" in p.read_bytes()]
    assert len(CASES) >= 60
    assert len(crlf) >= 5


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("path", INPUTS, ids=_name)
def test_each_documents_text_parses_back_to_the_same_value(read, path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig")
    for doc in read(text, path.name):
        if doc.value is None:
            continue
        again = [d for d in read(doc.text, path.name) if d.value is not None]
        assert len(again) == 1, f"line {doc.line}: {len(again)} documents in its text"
        assert again[0].value == doc.value, f"line {doc.line}"


@pytest.mark.parametrize("folder", [*CASES, DEMOS[0]], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_policy_loads_again_from_its_own_text(folder: Path) -> None:
    snapshot = load_paths([folder / "input" if (folder / "input").is_dir() else folder])
    policies = [*snapshot.policies, *snapshot.cluster_policies]
    for policy in policies:
        assert policy.source.strip(), f"{policy.id}: empty text"
        again = load_documents([(policy.location.file, policy.source)])
        (reread,) = [*again.policies, *again.cluster_policies]
        assert bare(reread) == bare(policy), policy.id


# Policies written the ways kubectl accepts, in one CRLF stream: on their `---` line (one with
# the comment above it), behind an anchor on it, and with merge keys that written keys win over.
FORMS = "\r\n".join(
    [
        "# deny",
        "--- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,",
        "     metadata: {name: deny, namespace: shop}, spec: {podSelector: {}}}",
        "--- &allow",
        "apiVersion: networking.k8s.io/v1",
        "kind: NetworkPolicy",
        "metadata: {name: allow, namespace: shop}",
        "spec:",
        "  podSelector: {matchLabels: &db {app: db, tier: data}}",
        "  ingress:",
        "  - from: [{podSelector: {matchLabels: {<<: *db, app: api}}}]",
        "--- !!map",
        "apiVersion: networking.k8s.io/v1",
        "kind: NetworkPolicy",
        "metadata: {name: egress, namespace: shop}",
        "spec: {podSelector: {}, policyTypes: [Egress]}",
        "",
    ]
)


def test_policies_in_every_form_load_again_from_their_text_and_from_the_export() -> None:
    policies = load_documents([("forms.yaml", FORMS)]).policies
    assert [p.id for p in policies] == ["shop/allow", "shop/deny", "shop/egress"]
    assert policies[1].source.startswith("# deny\r\n{apiVersion:")
    from_texts = [p for q in policies for p in load_documents([("p.yaml", q.source)]).policies]
    exported = load_documents([("export.yaml", export_policies(policies))]).policies
    expected = bare(policies)
    assert bare(tuple(from_texts)) == expected
    assert bare(exported) == expected
    # the merge: the written `app` wins over the merged one, the merged `tier` stays
    (rule,) = policies[0].ingress
    assert dict(rule.peers[0].pod_selector.match_labels) == {"app": "api", "tier": "data"}
