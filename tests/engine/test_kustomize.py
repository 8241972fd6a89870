"""Kustomize trees: rendered with kubectl as `kubectl kustomize` would, refusals located first."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policies.engine import ManifestErrors, evaluate, load_documents
from policies.engine.cli import main
from policies.engine.kustomize import (
    KustomizeChoiceNeeded,
    find_kustomizations,
    prepare_folder,
    prepare_tree,
    read_folder,
)

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "policies" / "demo-kustomize"

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")


def flows(snapshot) -> set[tuple[str, str, str]]:
    return {(f.src.id, f.dst.id, str(f.ports)) for f in evaluate(snapshot).flows()}


def kubectl_kustomize(folder: Path) -> str:
    return subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def two_overlays(tmp_path: Path) -> Path:
    """The demo tree with a second overlay (staging) beside prod."""
    root = tmp_path / "shop"
    shutil.copytree(DEMO, root)
    staging = root / "overlays" / "staging"
    staging.mkdir()
    (staging / "kustomization.yaml").write_text(
        "namespace: shop-staging\nresources:\n  - ../../base\n"
    )
    return root


@needs_kubectl
def test_the_demo_overlay_gives_what_kubectl_kustomize_gives():
    tree = prepare_folder(DEMO, "demo-kustomize")
    assert tree.rendered == ("demo-kustomize/overlays/prod",)
    # every raw manifest belongs to a kustomization: none is read as it is
    assert [name for name, _ in tree.files] == ["demo-kustomize/README.md"]
    ours = load_documents(tree.objects)
    reference = load_documents([("rendered.yaml", kubectl_kustomize(DEMO / "overlays/prod"))])
    assert flows(ours) == flows(reference)
    # namespace transformer, namePrefix, commonLabels and the port patch all took effect
    assert ("shop-prod/prod-web[Deployment]", "shop-prod/prod-api[Deployment]", "TCP 9090") in (
        flows(ours)
    )
    api = next(w for w in ours.workloads if w.name == "prod-api")
    assert dict(api.labels)["env"] == "prod"


@needs_kubectl
def test_rendered_objects_name_their_kustomization_and_source_file():
    tree = prepare_folder(DEMO, "demo-kustomize")
    names = {name for name, _ in tree.objects}
    assert (
        "demo-kustomize/base/policies.yaml (via demo-kustomize/overlays/prod/kustomization.yaml)"
        in names
    )
    # the origin annotation was ours to ask for, not the user's: it is not kept
    assert all("config.kubernetes.io/origin" not in text for _, text in tree.objects)


@needs_kubectl
def test_nested_kustomizations_render_through_their_parent_only():
    assert find_kustomizations(p for p, _ in read_folder(DEMO)) == ("base", "overlays/prod")
    tree = prepare_tree(read_folder(DEMO))
    assert tree.rendered == ("overlays/prod",)


def test_several_top_level_kustomizations_ask_which_one(two_overlays):
    with pytest.raises(KustomizeChoiceNeeded) as info:
        prepare_tree(read_folder(two_overlays))
    assert info.value.choices == ("overlays/prod", "overlays/staging")
    assert str(info.value.errors[0]).endswith(
        "2 top-level kustomizations (overlays/prod, overlays/staging): choose the one(s) to render"
    )


@needs_kubectl
def test_a_choice_renders_only_that_overlay(two_overlays):
    tree = prepare_tree(read_folder(two_overlays), ["overlays/staging"])
    assert tree.rendered == ("overlays/staging",)
    assert {w.namespace for w in load_documents(tree.objects).workloads} == {"shop-staging"}
    assert [str(d) for d in tree.diagnostics] == [
        "overlays/prod: kustomization not rendered (not chosen)"
    ]


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        # a plain URL to a file
        ("https://example.com/deploy.yaml", "resources"),
        # a git URL with a ref, as remote bases are written
        ("github.com/example/repo//base?ref=v1", "resources"),
        # the old `bases:` field
        ("git@github.com:example/repo.git//base", "bases"),
    ],
)
def test_remote_resources_are_refused_before_kubectl_runs(entry, key):
    files = [("kustomization.yaml", f"{key}:\n  - local.yaml\n  - {entry}\n".encode())]
    with pytest.raises(ManifestErrors) as info:
        prepare_tree(files, kubectl="/nonexistent/kubectl")
    (error,) = info.value.errors
    assert str(error) == (
        f"kustomization.yaml:3 {key}[1]: remote {key} entry {entry!r} is refused: netviz "
        "renders without network access; vendor it into the tree or upload the output of "
        "`kubectl kustomize`"
    )


def test_helm_charts_in_a_kustomization_are_refused():
    text = b"helmCharts:\n  - name: redis\n    repo: https://charts.example.com\n"
    with pytest.raises(ManifestErrors) as info:
        prepare_tree([("app/kustomization.yaml", text)], kubectl="/nonexistent/kubectl")
    assert [str(e) for e in info.value.errors] == [
        "app/kustomization.yaml:1 helmCharts: Helm charts are not rendered here (kubectl would "
        "need Helm and the network): render the chart with `helm template` and upload its output"
    ]


def test_a_refusal_in_an_included_base_stops_the_overlay():
    files = [
        ("base/kustomization.yaml", b"resources:\n  - https://example.com/x.yaml\n"),
        ("prod/kustomization.yaml", b"resources:\n  - ../base\n"),
    ]
    with pytest.raises(ManifestErrors) as info:
        prepare_tree(files)
    assert [e.location.file for e in info.value.errors] == ["base/kustomization.yaml"]


def test_a_helm_chart_folder_is_refused_and_nothing_is_read_from_it():
    files = [
        ("chart/Chart.yaml", b"apiVersion: v2\nname: app\n"),
        ("chart/templates/deploy.yaml", b"kind: Deployment\nmetadata: {name: {{ .Name }}}\n"),
    ]
    with pytest.raises(ManifestErrors) as info:
        prepare_tree(files)
    assert [str(e) for e in info.value.errors] == [
        "chart/Chart.yaml: is a Helm chart: its templates are not manifests until rendered; run "
        "`helm template` on it and upload (or analyse) the output"
    ]


def test_missing_kubectl_says_so_and_names_the_fix(tmp_path):
    with pytest.raises(ManifestErrors) as info:
        prepare_folder(DEMO, "shop", env={"PATH": str(tmp_path)})
    assert [str(e) for e in info.value.errors] == [
        "shop/overlays/prod/kustomization.yaml: kubectl is not installed here, and this "
        "Kustomize folder must be rendered with it: install kubectl (it ships Kustomize), or "
        "upload the output of `kubectl kustomize overlays/prod` instead"
    ]


@needs_kubectl
def test_what_kustomize_says_is_a_located_error():
    files = [("app/kustomization.yaml", b"resources:\n  - missing.yaml\n")]
    with pytest.raises(ManifestErrors) as info:
        prepare_tree(files)
    (error,) = info.value.errors
    assert error.location.file == "app/kustomization.yaml"
    assert error.message.startswith("kustomize: ")
    assert "missing.yaml" in error.message
    assert "netviz-kustomize-" not in error.message  # our temporary folder is not shown


@needs_kubectl
def test_files_outside_the_kustomization_root_are_not_loaded():
    # LoadRestrictionsRootOnly: a kustomization may not read a file beside its folder
    files = [
        ("secret.yaml", b"apiVersion: v1\nkind: Pod\nmetadata: {name: s}\n"),
        ("app/kustomization.yaml", b"resources:\n  - ../secret.yaml\n"),
    ]
    with pytest.raises(ManifestErrors) as info:
        prepare_tree(files)
    assert "kustomize: " in info.value.errors[0].message


@needs_kubectl
def test_the_output_size_limit_stops_a_render():
    with pytest.raises(ManifestErrors) as info:
        prepare_folder(DEMO, "shop", max_output=100)
    assert "rendered more than" in str(info.value)


def test_a_folder_without_kustomization_passes_through_unchanged():
    files = [("a.yaml", b"x: 1\n"), ("notes.txt", b"hi")]
    assert prepare_tree(files).files == tuple(files)


# --- the CLI ---------------------------------------------------------------------------------


@needs_kubectl
def test_cli_renders_a_kustomize_folder_like_kubectl_kustomize_piped_in(capsys, monkeypatch):
    assert main(["analyze", str(DEMO)]) == 0
    ours, err = capsys.readouterr()
    assert f"note: rendered {DEMO}/overlays/prod with kubectl kustomize" in err
    rendered = kubectl_kustomize(DEMO / "overlays/prod")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(rendered.encode())))
    assert main(["analyze", "-"]) == 0
    assert capsys.readouterr().out == ours


@needs_kubectl
def test_cli_renders_every_top_level_kustomization_and_says_so(two_overlays, capsys):
    assert main(["analyze", str(two_overlays)]) == 0
    out, err = capsys.readouterr()
    assert "2 top-level kustomizations, each rendered: overlays/prod, overlays/staging" in err
    assert "shop-staging/prod-" not in out
    assert "shop-staging/web[Deployment]" in out
    assert "shop-prod/prod-web[Deployment]" in out


@needs_kubectl
def test_cli_kustomize_option_picks_one(two_overlays, capsys):
    code = main(["analyze", str(two_overlays), "--kustomize", str(two_overlays / "overlays/prod")])
    out, err = capsys.readouterr()
    assert code == 0
    assert "shop-staging" not in out
    assert "each rendered" not in err


def test_cli_refusal_exits_2_with_the_located_message(tmp_path, capsys):
    (tmp_path / "kustomization.yaml").write_text("helmCharts:\n  - name: x\n")
    assert main(["analyze", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path}/kustomization.yaml:1 helmCharts: Helm charts are not rendered" in err


def test_cli_without_kubectl_names_the_fix(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "policies.engine.cli", "analyze", str(DEMO)],
        cwd=REPO, env={"PATH": str(tmp_path)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "kubectl is not installed here" in proc.stderr
    assert "install kubectl (it ships Kustomize)" in proc.stderr


def test_manage_py_analyze_reads_standard_input():
    text = (REPO / "policies/demo/workloads-frontend.yaml").read_bytes()
    proc = subprocess.run(
        [sys.executable, "manage.py", "analyze", "-", "--format", "csv"],
        cwd=REPO, input=text, capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert b"shop-frontend/storefront[Deployment]" in proc.stdout


def test_netviz_analyze_dash_reads_standard_input_and_names_it_in_errors():
    proc = subprocess.run(
        [sys.executable, "-m", "policies.engine.cli", "analyze", "-"],
        cwd=REPO, input=b"apiVersion: v1\nkind: Pod\nmetadata: {name: [x]}\n",
        capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert b"error: <stdin>:3 metadata.name:" in proc.stderr


def test_a_render_that_takes_too_long_is_stopped(tmp_path):
    # A stand-in kubectl that never answers: the time limit ends it, as a located error.
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    files = [("app/kustomization.yaml", b"resources: []\n")]
    with pytest.raises(ManifestErrors) as info:
        prepare_tree(files, kubectl=str(fake), timeout=0.5)
    assert [str(e) for e in info.value.errors] == [
        "app/kustomization.yaml: kubectl kustomize took longer than 0.5 s"
    ]


def test_kubectl_runs_with_the_load_restrictor_no_kubeconfig_and_no_reachable_proxy(tmp_path):
    # A stand-in kubectl that prints what it was given, as a manifest netviz can read back.
    fake = tmp_path / "kubectl"
    fake.write_text(
        "#!/bin/sh\n"
        'printf "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: seen\\n'
        '  annotations:\\n    args: \\"%s\\"\\n    env: \\"%s %s\\"\\n" '
        '"$*" "$KUBECONFIG" "$HTTPS_PROXY"\n'
    )
    fake.chmod(0o755)
    tree = prepare_tree([("app/kustomization.yaml", b"resources: []\n")], kubectl=str(fake))
    ((_, text),) = tree.objects
    assert "kustomize --load-restrictor LoadRestrictionsRootOnly " in text
    assert "/dev/null http://127.0.0.1:9" in text


@needs_kubectl
def test_cli_kustomize_option_alone_renders_that_folder_with_the_bases_it_includes(capsys):
    # overlays/prod includes ../../base, outside its own folder: both are read
    assert main(["analyze", "--kustomize", str(DEMO / "overlays/prod")]) == 0
    out, err = capsys.readouterr()
    assert "shop-prod/prod-web[Deployment] => shop-prod/prod-api[Deployment] : TCP 9090" in out
    assert "demo-kustomize/overlays/prod with kubectl kustomize" in err


@needs_kubectl
def test_cli_path_to_an_overlay_reads_the_base_beside_it(capsys):
    assert main(["analyze", str(DEMO / "overlays/prod"), "--format", "csv"]) == 0
    out, _ = capsys.readouterr()
    assert "shop-prod/prod-web[Deployment],shop-prod/prod-api[Deployment],TCP 9090" in out
