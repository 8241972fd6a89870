"""Real repositories in: Kustomize trees, folders and merge uploads, through the upload form and
the API, giving what the CLI and `kubectl kustomize` give."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.asserts import assertContains, assertRedirects

from policies import analysis
from policies.engine import evaluate, load_documents
from policies.engine.cli import load_inputs
from policies.engine.kustomize import read_folder
from policies.models import Cluster
from tests.meaning import bare

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "policies" / "demo-kustomize"
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")


def flows_of(snapshot) -> set[tuple[str, str, str]]:
    return {(f.src.id, f.dst.id, str(f.ports)) for f in evaluate(snapshot).flows()}


def cluster_flows(cluster: Cluster) -> set[tuple[str, str, str]]:
    return flows_of(analysis.state(cluster.head).snapshot)


def reference_flows() -> set[tuple[str, str, str]]:
    text = subprocess.run(
        ["kubectl", "kustomize", str(DEMO / "overlays/prod")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return flows_of(load_documents([("rendered.yaml", text)]))


def tar_gz_of(pairs, top: str = "shop") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in pairs:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return SimpleUploadedFile(f"{top}.tar.gz", buffer.getvalue())


def folder_post(pairs, top: str = "shop") -> dict[str, list]:
    """What upload.js sends for a chosen folder: the files and their relative paths."""
    return {
        "folder": [SimpleUploadedFile(Path(name).name, content) for name, content in pairs],
        "folder_paths": [f"{top}/{name}" for name, _ in pairs],
    }


@pytest.fixture
def browser(client_for, owner):
    return client_for(owner)


@pytest.fixture
def api(api_client_for, owner):
    return api_client_for(owner)


@pytest.fixture
def two_overlays() -> list[tuple[str, bytes]]:
    staging = b"namespace: shop-staging\nresources:\n  - ../../base\n"
    return [*read_folder(DEMO), ("overlays/staging/kustomization.yaml", staging)]


# --- the same answer everywhere ----------------------------------------------------------------


@needs_kubectl
def test_a_kustomize_folder_gives_the_same_connectivity_in_the_form_the_api_and_the_cli(
    browser, api
):
    expected = reference_flows()
    assert ("shop-prod/prod-web[Deployment]", "shop-prod/prod-api[Deployment]", "TCP 9090") in (
        expected
    )
    # the upload form, with a folder
    response = browser.post("/clusters/new/", {"name": "form", **folder_post(read_folder(DEMO))})
    form_cluster = Cluster.objects.get(name="form")
    assertRedirects(response, form_cluster.get_absolute_url())
    # the API, with an archive of the folder
    response = api.post("/api/clusters/", {"name": "api", "files": [tar_gz_of(read_folder(DEMO))]})
    assert response.status_code == 201, response.json()
    api_cluster = Cluster.objects.get(pk=response.json()["id"])
    # the CLI's loader
    cli = flows_of(load_inputs([str(DEMO)]))
    assert cluster_flows(form_cluster) == cluster_flows(api_cluster) == cli == expected


@needs_kubectl
def test_rendered_objects_are_stored_with_their_kustomization_and_source_file(browser):
    browser.post("/clusters/new/", {"name": "k", **folder_post(read_folder(DEMO))})
    head = Cluster.objects.get(name="k").head
    policy = head.policies.get(name="prod-api-from-web")
    assert policy.source_file == (
        "shop/base/policies.yaml (via shop/overlays/prod/kustomization.yaml)"
    )
    assert "config.kubernetes.io/origin" not in policy.yaml
    assert {"file": "shop/overlays/prod", "message": "rendered with kubectl kustomize"}.items() <= (
        next(d for d in head.diagnostics if d["severity"] == "info" and "kustomize" in d["message"])
    ).items()


# --- refusals, each with the message the user sees -------------------------------------------


def test_a_remote_resource_is_refused_with_its_location(browser):
    tree = [("kustomization.yaml", b"resources:\n  - https://example.com/app.yaml\n")]
    response = browser.post("/clusters/new/", {"name": "r", **folder_post(tree)})
    assertContains(response, "shop/kustomization.yaml", status_code=422)
    assertContains(
        response,
        "remote resources entry &#x27;https://example.com/app.yaml&#x27; is refused: netviz "
        "renders without network access",
        status_code=422,
    )
    assert not Cluster.objects.exists()


def test_helm_charts_are_refused_through_the_api(api):
    tree = [("kustomization.yaml", b"helmCharts:\n  - name: redis\n")]
    response = api.post("/api/clusters/", {"name": "h", "files": [tar_gz_of(tree)]})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "file": "shop.tar.gz/shop/kustomization.yaml",
            "line": 1,
            "path": "helmCharts",
            "message": "Helm charts are not rendered here (kubectl would need Helm and the "
            "network): render the chart with `helm template` and upload its output",
        }
    ]


def test_a_helm_chart_folder_is_refused(browser):
    tree = [("Chart.yaml", b"apiVersion: v2\nname: app\n"), ("templates/x.yaml", b"a: 1\n")]
    response = browser.post("/clusters/new/", {"name": "c", **folder_post(tree)})
    assertContains(response, "is a Helm chart", status_code=422)
    assertContains(response, "run `helm template` on it", status_code=422)


def test_missing_kubectl_is_said_plainly_with_the_fix(browser, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no kubectl on this PATH
    response = browser.post("/clusters/new/", {"name": "m", **folder_post(read_folder(DEMO))})
    assertContains(response, "kubectl is not installed here", status_code=422)
    assertContains(response, "install kubectl (it ships Kustomize), or upload the output of",
                   status_code=422)  # fmt: skip
    assert not Cluster.objects.exists()  # never a silent fallback to the raw files


def test_several_overlays_without_a_choice_are_listed_and_nothing_is_stored(browser, two_overlays):
    response = browser.post("/clusters/new/", {"name": "two", **folder_post(two_overlays)})
    assertContains(
        response,
        "2 top-level kustomizations (shop/overlays/prod, shop/overlays/staging): choose the "
        "one(s) to render",
        status_code=422,
    )
    assertContains(response, 'data-testid="kustomize-choices"', status_code=422)
    assertContains(response, 'name="kustomize" value="shop/overlays/staging"', status_code=422)
    assert not Cluster.objects.exists()


@needs_kubectl
def test_choosing_an_overlay_renders_that_one(browser, api, two_overlays):
    response = browser.post(
        "/clusters/new/",
        {"name": "two", "kustomize": "shop/overlays/staging", **folder_post(two_overlays)},
    )
    assertRedirects(response, Cluster.objects.get(name="two").get_absolute_url())
    head = Cluster.objects.get(name="two").head
    assert {w.namespace for w in head.workloads.all()} == {"shop-staging"}
    # the API takes the same field; a path inside the tree is enough
    response = api.post(
        "/api/clusters/",
        {"name": "api", "kustomize": "overlays/prod", "files": [tar_gz_of(two_overlays)]},
    )
    assert response.status_code == 201, response.json()


def test_the_api_lists_the_choices_when_it_needs_one(api, two_overlays):
    response = api.post("/api/clusters/", {"name": "two", "files": [tar_gz_of(two_overlays)]})
    assert response.status_code == 400
    assert response.json()["kustomize_choices"] == [
        "shop.tar.gz/shop/overlays/prod",
        "shop.tar.gz/shop/overlays/staging",
    ]


# --- folders ---------------------------------------------------------------------------------


def test_a_folder_upload_keeps_relative_paths_in_warnings_and_rows(browser):
    pod = b"apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  containers:\n  - name: c\n    ports:\n    - {containerport: 80}\n"
    tree = [("catalog/deployment.yaml", pod % b"catalog"), ("cart/deployment.yaml", pod % b"cart")]
    response = browser.post("/clusters/new/", {"name": "f", **folder_post(tree)})
    cluster = Cluster.objects.get(name="f")
    assertRedirects(response, cluster.get_absolute_url())
    files = {w["file"] for w in cluster.head.warnings}
    assert {"shop/catalog/deployment.yaml", "shop/cart/deployment.yaml"} <= files
    assert cluster.head.workloads.get(name="cart").source_file == "shop/cart/deployment.yaml"


def test_a_folder_path_leaving_the_folder_is_refused(browser):
    post = folder_post([("x.yaml", b"a: 1\n")])
    post["folder_paths"] = ["../x.yaml"]
    response = browser.post("/clusters/new/", {"name": "f", **post})
    assertContains(response, "has a &#x27;..&#x27; path that leaves the archive", status_code=422)


# --- merge-mode uploads ----------------------------------------------------------------------

POD = "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}\n"
DENY = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {podSelector: {}}\n"


@pytest.fixture
def small_cluster(browser) -> Cluster:
    text = POD.format(name="web", ns="a") + "---\n" + POD.format(name="db", ns="b") + "---\n" + DENY
    browser.post("/clusters/new/", {"name": "small", "manifests": text})
    return Cluster.objects.get(name="small")


def test_a_replacing_upload_shows_what_it_drops_before_storing(browser, small_cluster):
    url = f"/clusters/{small_cluster.pk}/upload/"
    response = browser.post(url, {"manifests": POD.format(name="web", ns="a")})
    assertContains(response, 'data-testid="upload-drops"', status_code=422)
    assertContains(response, "Namespaces no longer present: <span class=\"mono\">b</span>",
                   status_code=422)  # fmt: skip
    assertContains(response, "b/db[Pod]", status_code=422)
    assertContains(response, "a/deny", status_code=422)
    assertContains(response, 'name="confirm_drops" value="on"', status_code=422)
    assert small_cluster.revisions.count() == 1


def test_merge_keeps_what_the_upload_does_not_mention_and_replaces_the_rest(browser, small_cluster):
    url = f"/clusters/{small_cluster.pk}/upload/"
    web = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: new}}\n"
    response = browser.post(url, {"manifests": web, "mode": "merge"})
    assertRedirects(response, small_cluster.get_absolute_url())
    head = small_cluster.head
    assert head.number == 2
    assert sorted(w.name for w in head.workloads.all()) == ["db", "web"]
    assert head.workloads.get(name="web").labels == {"app": "new"}  # replaced
    assert list(head.policies.values_list("name", "yaml")) == [("deny", DENY)]  # kept verbatim


def test_the_api_replaces_by_default_and_merges_when_asked(api, small_cluster):
    url = f"/api/clusters/{small_cluster.pk}/uploads"
    extra = SimpleUploadedFile("extra.yaml", POD.format(name="cache", ns="b").encode())
    response = api.post(url, {"files": [extra], "mode": "merge"})
    assert response.status_code == 201, response.json()
    assert response.json()["dropped"] == {"namespaces": [], "workloads": [], "policies": []}
    assert small_cluster.head.workloads.count() == 3
    only = SimpleUploadedFile("only.yaml", POD.format(name="web", ns="a").encode())
    response = api.post(url, {"files": [only]})  # mode=replace, the default: no question asked
    assert response.status_code == 201
    assert response.json()["dropped"] == {
        "namespaces": ["b"],
        "workloads": ["b/cache[Pod]", "b/db[Pod]"],
        "policies": ["a/deny"],
    }
    assert [w.name for w in small_cluster.head.workloads.all()] == ["web"]


def test_the_api_refuses_an_unknown_mode(api, small_cluster):
    response = api.post(
        f"/api/clusters/{small_cluster.pk}/uploads", {"manifests": DENY, "mode": "upsert"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "mode"


# --- stored text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        # the demo shop, plain files
        "demo",
        # the Kustomize demo, rendered
        "demo-kustomize",
    ],
)
def test_every_uploaded_policy_s_stored_text_parses_back_to_the_same_object(browser, source):
    if source == "demo-kustomize" and shutil.which("kubectl") is None:
        pytest.skip("needs kubectl")
    tree = read_folder(REPO / "policies" / source)
    browser.post("/clusters/new/", {"name": source, **folder_post(tree)})
    head = Cluster.objects.get(name=source).head
    uploaded = {p.id: p for p in analysis.state(head).snapshot.policies}
    assert uploaded
    for row in head.policies.all():
        (again,) = load_documents([("stored.yaml", row.yaml)]).policies
        assert bare(again) == bare(uploaded[again.id])
