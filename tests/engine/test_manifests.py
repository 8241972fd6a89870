"""Loading manifests: files, documents, kinds, and every error located at file:line path."""

from __future__ import annotations

import json

import pytest

from policies.engine import ManifestErrors, load_documents, load_paths

from .helpers import pod, policy, snap


def _errors(text: str, file: str = "policies.yaml") -> list[str]:
    with pytest.raises(ManifestErrors) as info:
        load_documents([(file, text)])
    return [str(e) for e in info.value.errors]


def test_loads_every_yaml_yml_and_json_file_recursively(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").mkdir()
    (tmp_path / "one.yaml").write_text(pod("one"))
    (tmp_path / "a" / "two.yml").write_text(pod("two"))
    (tmp_path / "a" / "b" / "three.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "three"}})
    )
    (tmp_path / "a" / "notes.txt").write_text("not read")
    assert sorted(w.name for w in load_paths([tmp_path]).workloads) == ["one", "three", "two"]


def test_multi_document_files_keep_each_documents_line_and_text() -> None:
    s = load_documents(
        [("m.yaml", pod("a") + "---\n# the policy\n" + policy("p", "podSelector: {}"))]
    )
    (p,) = s.policies
    assert p.location.line == 14  # its apiVersion line, below `---` and the comment
    assert p.source.startswith("# the policy\napiVersion")


def test_kind_list_as_kubectl_get_writes_it() -> None:
    items = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"t": "1"}}},
    ]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2)
    s = load_documents([("list.json", text)])
    assert [w.id for w in s.workloads] == ["x/a[Pod]"]
    assert dict(s.namespaces[0].labels)["t"] == "1"


def test_json_with_tab_indentation_loads() -> None:
    text = '{\n\t"apiVersion": "v1",\n\t"kind": "Pod",\n\t"metadata": {"name": "a"}\n}\n'
    assert [w.id for w in load_documents([("p.json", text)]).workloads] == ["default/a[Pod]"]


def test_tab_inside_a_flow_sequence_loads_as_kubectl_does() -> None:
    text = pod("a").replace("image: x", 'image: x\n    args: ["a",\t"b"]')
    assert [w.name for w in load_documents([("tab.yaml", text)]).workloads] == ["a"]


def test_objects_without_namespace_go_to_default() -> None:
    s = snap(pod("a").replace("  namespace: default\n", ""))
    assert s.workloads[0].namespace == "default"
    assert [n.name for n in s.namespaces] == ["default"]


def test_files_that_are_not_manifests_are_skipped_with_a_warning() -> None:
    s = load_documents([("values.yaml", "replicaCount: 3\nimage: nginx\n"), ("p.yaml", pod("a"))])
    (warning,) = [d for d in s.warnings if d.location.file == "values.yaml"]
    assert "not a Kubernetes manifest" in warning.message


def test_unknown_kinds_are_ignored_with_a_note() -> None:
    svc = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n"
    s = snap(svc, pod("a"))
    assert [w.name for w in s.workloads] == ["a"]
    assert any("kind Service" in n.message and n.location.line == 1 for n in s.notes)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # the issue's own example
        (
            "podSelector: {}\npolicyTypes:\n- Sideways",
            "policies.yaml:9 spec.policyTypes[0]: 'Sideways' is not Ingress or Egress",
        ),
        # label values must be strings (kubectl refuses numbers)
        (
            "podSelector: {}\ningress:\n- from:\n  - podSelector:\n      matchLabels:\n        v: 1",
            "policies.yaml:12 spec.ingress[0].from[0].podSelector.matchLabels.v:"
            " label keys and values must be strings",
        ),
        (
            "podSelector:\n  matchExpressions:\n  - {key: a, operator: Has}",
            "policies.yaml:9 spec.podSelector.matchExpressions[0].operator:"
            " 'Has' is not In, NotIn, Exists or DoesNotExist",
        ),
        (
            "podSelector:\n  matchExpressions:\n  - {key: a, operator: In}",
            "policies.yaml:9 spec.podSelector.matchExpressions[0].values:"
            " must not be empty with operator In",
        ),
        (
            "podSelector:\n  matchExpressions:\n  - {key: a, operator: Exists, values: [x]}",
            "policies.yaml:9 spec.podSelector.matchExpressions[0].values:"
            " must be empty with operator Exists",
        ),
        (
            "podSelector: {}\ningress:\n- ports:\n  - port: 70000",
            "policies.yaml:10 spec.ingress[0].ports[0].port: 70000 is not within 1-65535",
        ),
        (
            "podSelector: {}\ningress:\n- ports:\n  - {port: 80, protocol: ICMP}",
            "policies.yaml:10 spec.ingress[0].ports[0].protocol: 'ICMP' is not TCP, UDP or SCTP",
        ),
        (
            "podSelector: {}\ningress:\n- ports:\n  - {port: 90, endPort: 80}",
            "policies.yaml:10 spec.ingress[0].ports[0].endPort: 80 must be within 90-65535",
        ),
        (
            "podSelector: {}\ningress:\n- ports:\n  - {endPort: 80}",
            "policies.yaml:10 spec.ingress[0].ports[0].endPort: needs a port to start the range",
        ),
        (
            "podSelector: {}\ningress:\n- ports:\n  - {port: Not_A_Name}",
            "policies.yaml:10 spec.ingress[0].ports[0].port: 'Not_A_Name' is not a valid port name"
            " (1-15 lowercase letters, digits and '-', at least one letter)",
        ),
        (
            # the API server refuses a double hyphen and a trailing newline alike
            "podSelector: {}\ningress:\n- ports:\n  - {port: web--http}",
            "policies.yaml:10 spec.ingress[0].ports[0].port: 'web--http' is not a valid port name"
            " (1-15 lowercase letters, digits and '-', at least one letter)",
        ),
        (
            'podSelector: {}\ningress:\n- ports:\n  - {port: "http\\n"}',
            "policies.yaml:10 spec.ingress[0].ports[0].port: 'http\\n' is not a valid port name"
            " (1-15 lowercase letters, digits and '-', at least one letter)",
        ),
        (
            "podSelector: {}\negress:\n- to:\n  - ipBlock: {cidr: 10.0.0.0/33}",
            "policies.yaml:10 spec.egress[0].to[0].ipBlock.cidr: '10.0.0.0/33' is not a valid CIDR",
        ),
        (
            "podSelector: {}\negress:\n- to:\n  - ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}",
            "policies.yaml:10 spec.egress[0].to[0].ipBlock.except[0]:"
            " 11.0.0.0/16 must be a strict subset of 10.0.0.0/8",
        ),
        (
            "podSelector: {}\negress:\n- to:\n  - ipBlock: {cidr: 1.0.0.0/8}\n    podSelector: {}",
            "policies.yaml:10 spec.egress[0].to[0]:"
            " ipBlock cannot be combined with podSelector or namespaceSelector",
        ),
        (
            "podSelector: {}\ningress:\n- from:\n  - {}",
            "policies.yaml:10 spec.ingress[0].from[0]:"
            " must specify a peer: podSelector, namespaceSelector or ipBlock",
        ),
        (
            "podSelector: []",
            "policies.yaml:7 spec.podSelector: must be a mapping, got a list",
        ),
    ],
)
def test_invalid_field_values_are_errors_with_file_line_and_path(spec: str, expected: str) -> None:
    assert _errors(policy("p", spec)) == [expected]


def test_all_errors_of_a_load_are_collected() -> None:
    bad1 = policy("p1", "podSelector: {}\npolicyTypes: [Sideways]")
    bad2 = policy("p2", "podSelector: {}\ningress:\n- ports: [{port: 0}]")
    with pytest.raises(ManifestErrors) as info:
        load_documents([("one.yaml", bad1), ("two.yaml", bad2), ("bad.yaml", "a: [\n")])
    files = sorted(e.location.file for e in info.value.errors)
    assert files == ["bad.yaml", "one.yaml", "two.yaml"]


def test_bad_yaml_is_an_error_with_its_line() -> None:
    (error,) = _errors("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   bad: indent\n")
    assert error.startswith("policies.yaml:5: invalid YAML")


def test_metadata_name_is_required() -> None:
    assert _errors("apiVersion: v1\nkind: Pod\nmetadata: {labels: {a: b}}\n") == [
        "policies.yaml:3 metadata.name: is required"
    ]


def test_text_that_is_not_utf8_is_an_error() -> None:
    with pytest.raises(ManifestErrors) as info:
        load_documents([("bin.yaml", b"kind: Pod\n\xff\xfe")])
    assert str(info.value.errors[0]) == "bin.yaml:2: is not UTF-8 text"


def test_alias_bombs_are_rejected() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    (error,) = _errors("\n".join(lines) + "\n", "bomb.yaml")
    assert "alias" in error
    assert error.startswith("bomb.yaml:1")


def test_over_deep_documents_are_rejected() -> None:
    text = "a: " + "[" * 80 + "]" * 80 + "\n"
    (error,) = _errors(text, "deep.yaml")
    assert "nested deeper than 64 levels" in error


def test_end_port_with_a_named_port_is_a_warning_and_is_ignored() -> None:
    s = snap(
        pod("a"), policy("p", "podSelector: {}\ningress:\n- ports:\n  - {port: http, endPort: 90}")
    )
    (w,) = [d for d in s.warnings if "endPort" in d.message]
    assert (w.location.file, w.location.line) == ("test.yaml", 22)
    assert w.location.path == "spec.ingress[0].ports[0].endPort"
    assert s.policies[0].ingress[0].ports[0].end_port is None


def test_pod_ips_are_read_from_status() -> None:
    text = pod("a") + "status:\n  podIP: 10.1.2.3\n  podIPs: [{ip: 10.1.2.3}, {ip: 'fd00::3'}]\n"
    assert snap(text).workloads[0].pod_ips == ("10.1.2.3", "fd00::3")


def test_a_policy_defined_twice_keeps_the_later_one_with_a_warning() -> None:
    s = snap(policy("p", "podSelector: {}"), policy("p", "podSelector: {matchLabels: {a: b}}"))
    assert len(s.policies) == 1
    assert s.policies[0].pod_selector.match_labels == (("a", "b"),)
    assert any("defined again" in d.message for d in s.warnings)
