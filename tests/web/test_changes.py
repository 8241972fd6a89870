"""policies.changes: validation with lines, impact, saves with conflicts, delete, compare,
export (the one change path of the editor and the API)."""

from __future__ import annotations

import io
import zipfile

import pytest
import yaml

from policies import analysis, changes, engine, revisions, snapshots
from policies.engine import formats
from policies.models import Revision

pytestmark = pytest.mark.django_db

FE, BE = "shop/frontend[Deployment]", "shop/backend[Deployment]"

OPEN_BACKEND = """\
# let anything in the namespace reach the backend on any port
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: backend-from-frontend
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: backend}
  ingress:
    - from:
        - podSelector: {}
"""


def _policy_yaml(cluster, name: str) -> str:
    return cluster.head.policies.get(namespace="shop", name=name).yaml


def test_broken_yaml_is_reported_at_its_line(shop_cluster) -> None:
    text = OPEN_BACKEND.replace("  ingress:", "  policyTypes: [Sideways]\n  ingress:")
    check = changes.check_edit(shop_cluster.head, text, ("shop", "backend-from-frontend"))
    assert not check.valid
    assert check.diagnostics == [
        {
            "severity": "error",
            "line": 10,
            "path": "spec.policyTypes[0]",
            "message": "'Sideways' is not Ingress or Egress",
        }
    ]


def test_a_valid_edit_shows_its_impact(shop_cluster) -> None:
    check = changes.check_edit(shop_cluster.head, OPEN_BACKEND, ("shop", "backend-from-frontend"))
    assert check.valid
    assert check.impact["changed"] == [
        {"src": FE, "dst": BE, "before": {"TCP": "9090"}, "after": "All Connections"}
    ]
    assert check.summary == "+0 -0 ~1"


def test_warnings_are_judged_in_the_clusters_context(shop_cluster) -> None:
    typo = OPEN_BACKEND.replace("podSelector: {}", "podSelector: {matchLabels: {app: frontnd}}")
    check = changes.check_edit(shop_cluster.head, typo, ("shop", "backend-from-frontend"))
    assert check.valid
    assert [(d["line"], d["severity"]) for d in check.diagnostics] == [(12, "warning")]
    assert "matches no pod" in check.diagnostics[0]["message"]


def test_only_network_policies_can_be_edited(shop_cluster) -> None:
    check = changes.check_edit(
        shop_cluster.head, "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", None
    )
    assert not check.valid
    assert "only NetworkPolicy objects" in check.diagnostics[0]["message"]


def test_save_keeps_the_users_text_verbatim_and_makes_a_revision(shop_cluster, owner) -> None:
    revision, edit, _ = changes.apply_edit(
        shop_cluster,
        owner,
        OPEN_BACKEND,
        base_number=1,
        original=("shop", "backend-from-frontend"),
        message="open it up",
    )
    assert (revision.number, revision.message) == (2, "open it up")
    assert edit.change.summary() == revision.impact["summary"] == "+0 -0 ~1"
    assert _policy_yaml(shop_cluster, "backend-from-frontend") == OPEN_BACKEND
    assert (
        Revision.objects.get(cluster=shop_cluster, number=1)
        .policies.get(name="backend-from-frontend")
        .yaml
        != OPEN_BACKEND
    )


def test_a_second_save_of_the_same_policy_gets_a_conflict(shop_cluster, owner, make_user) -> None:
    changes.apply_edit(
        shop_cluster, owner, OPEN_BACKEND, base_number=1, original=("shop", "backend-from-frontend")
    )
    mine = OPEN_BACKEND.replace("podSelector: {}", "podSelector: {matchLabels: {tier: web}}")
    with pytest.raises(changes.EditConflict) as info:
        changes.apply_edit(
            shop_cluster,
            make_user("bob"),
            mine,
            base_number=1,
            original=("shop", "backend-from-frontend"),
        )
    conflict = info.value.as_dict()
    assert conflict["head_revision"] == 2
    assert conflict["author"] == "olivia"
    assert conflict["theirs"] == OPEN_BACKEND
    assert "+        - podSelector: {}" in conflict["diff"]
    assert shop_cluster.revisions.count() == 2  # nothing lost, nothing stored


def test_saving_another_policy_after_a_concurrent_save_is_no_conflict(shop_cluster, owner) -> None:
    changes.apply_edit(
        shop_cluster, owner, OPEN_BACKEND, base_number=1, original=("shop", "backend-from-frontend")
    )
    other = changes.export_yaml(shop_cluster.head).split("---\n")[2]  # default-deny
    assert "name: default-deny" in other
    revision, _, _ = changes.apply_edit(
        shop_cluster,
        owner,
        other + "# reviewed\n",
        base_number=1,
        original=("shop", "default-deny"),
    )
    assert revision.number == 3


def test_renaming_a_policy_removes_the_original(shop_cluster, owner) -> None:
    renamed = OPEN_BACKEND.replace("name: backend-from-frontend", "name: backend-open")
    changes.apply_edit(
        shop_cluster, owner, renamed, base_number=1, original=("shop", "backend-from-frontend")
    )
    names = set(shop_cluster.head.policies.values_list("name", flat=True))
    assert names == {"default-deny", "frontend-to-backend", "backend-open"}


def test_delete_shows_its_impact_first_then_deletes(shop_cluster, owner) -> None:
    preview = changes.delete_impact(shop_cluster.head, "shop", "backend-from-frontend")
    assert preview["impact"]["removed"] == [{"src": FE, "dst": BE, "conns": {"TCP": "9090"}}]
    assert shop_cluster.revisions.count() == 1
    changes.delete_policy(shop_cluster, owner, "shop", "backend-from-frontend", base_number=1)
    assert not shop_cluster.head.policies.filter(name="backend-from-frontend").exists()


def test_revert_makes_a_new_revision_with_the_old_content(
    shop_cluster, owner, django_capture_on_commit_callbacks
) -> None:
    changes.apply_edit(
        shop_cluster, owner, OPEN_BACKEND, base_number=1, original=("shop", "backend-from-frontend")
    )
    with django_capture_on_commit_callbacks(execute=True):
        revision = revisions.revert_to(shop_cluster, owner, 1)
    assert revision.number == 3
    assert revision.message == "Reverted to revision 1"
    assert (
        _policy_yaml(shop_cluster, "backend-from-frontend")
        == Revision.objects.get(cluster=shop_cluster, number=1)
        .policies.get(name="backend-from-frontend")
        .yaml
    )
    revision.refresh_from_db()
    assert revision.impact["summary"] == "+0 -0 ~1"


def test_compare_lists_yaml_and_connectivity_diffs(shop_cluster, owner) -> None:
    changes.apply_edit(
        shop_cluster, owner, OPEN_BACKEND, base_number=1, original=("shop", "backend-from-frontend")
    )
    result = changes.compare_revisions(*shop_cluster.revisions.order_by("number"))
    assert [p["policy"] for p in result["policies"]] == ["shop/backend-from-frontend"]
    assert result["rows"] == [
        {
            "change": "changed",
            "src": FE,
            "dst": BE,
            "before": "TCP 9090",
            "after": "All Connections",
            "src_label": FE,
            "dst_label": BE,
        }
    ]
    lines = result["policy_diffs"][0]["lines"]
    assert {line["kind"] for line in lines} >= {"hunk", "add", "del", "ctx"}
    # every removed line is numbered in the old text, every added one in the new
    assert all(line["old"] and not line["new"] for line in lines if line["kind"] == "del")
    assert all(line["new"] and not line["old"] for line in lines if line["kind"] == "add")


def test_diff_lines_number_both_sides_from_the_hunk_header() -> None:
    unified = "--- a\n+++ b\n@@ -3,3 +3,3 @@\n keep\n-old\n+new\n keep too\n"
    assert [(d["kind"], d["old"], d["new"], d["text"]) for d in changes.diff_lines(unified)] == [
        ("hunk", "", "", "@@ -3,3 +3,3 @@"),
        ("ctx", 3, 3, "keep"),
        ("del", 4, "", "old"),
        ("add", "", 4, "new"),
        ("ctx", 5, 5, "keep too"),
    ]


def test_export_is_clean_and_round_trips(shop_cluster, shop_files) -> None:
    exported = changes.export_yaml(shop_cluster.head)
    for doc in yaml.safe_load_all(exported):
        assert set(doc["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    workloads = [f for f in shop_files if f[0] == "shop.yaml"]
    again = engine.load_documents([*workloads, ("export.yaml", exported)])
    flows = lambda s: [(f.src.id, f.dst.id, str(f.ports)) for f in engine.evaluate(s).flows()]  # noqa: E731
    assert flows(again) == flows(snapshots.revision_snapshot(shop_cluster.head))


def test_export_zip_has_a_file_per_namespace(shop_cluster) -> None:
    names = zipfile.ZipFile(io.BytesIO(changes.export_zip_bytes(shop_cluster.head))).namelist()
    assert names == ["shop.yaml"]


def test_allow_this_flow_suggests_a_policy_with_its_impact(shop_cluster) -> None:
    got = changes.suggest_allow_flow(shop_cluster.head, "shop/backend", "shop/frontend", "tcp-8080")
    assert "kind: NetworkPolicy" in got["yaml"]
    assert got["impact"]["added"] == [{"src": BE, "dst": FE, "conns": {"TCP": "8080"}}]


def test_a_saved_revision_is_what_a_fresh_read_of_it_gives(shop_cluster, owner) -> None:
    # The save stores the snapshot its preview computed, copying unchanged rows in the
    # database; reading the new revision back from its rows must give the same state.
    renamed = OPEN_BACKEND.replace("name: backend-from-frontend", "name: backend-open")
    extra = OPEN_BACKEND.replace("namespace: shop", "namespace: elsewhere")
    revision, edit, created = changes.apply_edit(
        shop_cluster,
        owner,
        renamed + "---\n" + extra,
        base_number=1,
        original=("shop", "backend-from-frontend"),
    )
    assert created
    analysis.clear()
    fresh = snapshots.revision_snapshot(Revision.objects.get(pk=revision.pk))

    def policies(snapshot):
        return [(p.namespace, p.name, p.source) for p in snapshot.policies]

    assert policies(fresh) == policies(edit.after)
    assert fresh.workloads == edit.after.workloads
    assert fresh.namespaces == edit.after.namespaces
    assert not engine.diff(engine.evaluate(fresh), edit.conn)
    assert formats.to_json_dict(engine.evaluate(fresh)) == formats.to_json_dict(edit.conn)


def test_a_revision_stores_its_impact_when_written(shop_cluster, owner) -> None:
    revision, edit, _ = changes.apply_edit(
        shop_cluster, owner, OPEN_BACKEND, base_number=1, original=("shop", "backend-from-frontend")
    )
    stored = Revision.objects.get(pk=revision.pk).impact
    assert stored["summary"] == edit.change.summary()
    assert (stored["added"], stored["removed"], stored["changed"]) == (0, 0, 1)
    assert stored["sample"] == edit.change.as_dict()


def test_an_edit_that_changes_nothing_says_which_side_still_denies(owner) -> None:
    demo = revisions.load_demo(owner)
    policy = demo.head.policies.get(namespace="shop-data", name="postgres")
    # postgres now lets cart in, but cart's own egress never names postgres
    text = policy.yaml.replace("values: [catalog, orders]", "values: [catalog, orders, cart]")
    assert text != policy.yaml
    check = changes.check_edit(demo.head, text, ("shop-data", "postgres")).as_dict()
    assert check["summary"] == changes.check_edit(demo.head, policy.yaml, None).summary
    [why] = check["why"]
    assert (why["src"], why["dst"]) == (
        "shop-backend/cart[Deployment]",
        "shop-data/postgres[StatefulSet]",
    )
    assert why["blocking"] == "egress"
    assert why["policies"]
    assert "egress of shop-backend/cart[Deployment] still denies it" in why["message"]


def test_an_edit_that_changes_flows_has_no_why(shop_cluster) -> None:
    check = changes.check_edit(shop_cluster.head, OPEN_BACKEND, ("shop", "backend-from-frontend"))
    assert check.as_dict()["why"] == []
