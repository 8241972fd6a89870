"""What only a browser shows on the upload page: a chosen folder goes up with its relative
paths, so the warnings name `shop/catalog/deployment.yaml`, not a bare `deployment.yaml`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from policies.models import Cluster

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLUSTER_PAGE = re.compile(r"/clusters/\d+/$")
DEMO = Path(__file__).resolve().parents[2] / "policies" / "demo-kustomize"

# A container port whose key is misspelled: the loader warns, at the file's path, and goes on.
POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: shop
spec:
  containers:
    - name: app
      image: example/{name}
      ports:
        - containerport: 8080
"""


@pytest.fixture
def shop_folder(tmp_path):
    root = tmp_path / "shop"
    for service in ("catalog", "cart"):
        (root / service).mkdir(parents=True)
        (root / service / "deployment.yaml").write_text(POD.format(name=service))
    return root


def test_uploading_a_folder_keeps_its_paths_in_the_warnings(page, shop_folder):
    page.goto("/clusters/new/")
    page.fill("input[name=name]", "from-a-folder")
    page.set_input_files("input[data-upload-folder]", str(shop_folder))
    # the list shows each file with its path inside the folder
    expect(page.locator("[data-file-list]")).to_contain_text("shop/catalog/deployment.yaml")
    page.get_by_test_id("upload-form").locator("button[type=submit]").click()
    page.wait_for_url(CLUSTER_PAGE)
    warnings = page.get_by_test_id("warnings")
    expect(warnings).to_contain_text("shop/catalog/deployment.yaml")
    expect(warnings).to_contain_text("shop/cart/deployment.yaml")
    cluster = Cluster.objects.get(name="from-a-folder")
    assert sorted(w.source_file for w in cluster.head.workloads.all()) == [
        "shop/cart/deployment.yaml",
        "shop/catalog/deployment.yaml",
    ]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_choosing_an_overlay_after_the_form_asks_keeps_the_chosen_folder(page, tmp_path):
    root = tmp_path / "shop"
    shutil.copytree(DEMO, root)
    (root / "overlays" / "staging").mkdir()
    (root / "overlays" / "staging" / "kustomization.yaml").write_text(
        "namespace: shop-staging\nresources:\n  - ../../base\n"
    )
    page.goto("/clusters/new/")
    page.fill("input[name=name]", "two-overlays")
    page.set_input_files("input[data-upload-folder]", str(root))
    form = page.get_by_test_id("upload-form")
    form.locator("button[type=submit]").click()
    choices = page.get_by_test_id("kustomize-choices")
    expect(choices).to_contain_text("shop/overlays/staging")
    # the folder is still chosen: pick an overlay and send again
    expect(page.locator("[data-file-list]")).to_contain_text("shop/base/kustomization.yaml")
    choices.get_by_label("shop/overlays/staging").check()
    page.get_by_test_id("upload-form").locator("button[type=submit]").click()
    page.wait_for_url(CLUSTER_PAGE)
    cluster = Cluster.objects.get(name="two-overlays")
    assert {w.namespace for w in cluster.head.workloads.all()} == {"shop-staging"}
