"""Uploading manifests in the browser: /clusters/new/ and /clusters/<id>/upload/."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from policies.models import ApiToken, Cluster, ClusterShare, Namespace, Policy, Revision, Workload

pytestmark = pytest.mark.django_db

NEW = "/clusters/new/"


def rows() -> tuple[int, ...]:
    models = (Cluster, Revision, Namespace, Workload, Policy, ClusterShare, ApiToken)
    return tuple(m.objects.count() for m in models)


def files(pairs) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, content) for name, content in pairs]


def zip_of(pairs) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in pairs:
            archive.writestr(name, content)
    return buffer.getvalue()


def tar_gz_of(pairs) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in pairs:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def browser(client_for, owner):
    return client_for(owner)


def test_the_upload_page_needs_a_login(client):
    assertRedirects(client.get(NEW), f"/accounts/login/?next={NEW}")


def test_the_upload_form_posts_with_htmx_and_shows_progress(browser):
    response = browser.get(NEW)
    assertContains(response, 'hx-encoding="multipart/form-data"')
    assertContains(response, "<progress")
    assertContains(response, "data-dropzone")
    assertContains(response, 'type="file" name="files"')
    assertContains(response, "multiple")
    assertContains(response, 'src="/static/js/upload.js"')
    assertContains(response, 'enctype="multipart/form-data"')  # works without JavaScript too


def test_uploading_files_creates_the_cluster_and_lands_on_its_page(browser, owner, shop_files):
    response = browser.post(NEW, {"name": "shop", "files": files(shop_files)}, follow=True)
    cluster = Cluster.objects.get(owner=owner, name="shop")
    assertRedirects(response, f"/clusters/{cluster.pk}/")
    assertContains(response, "Revision 1: 1 namespace, 2 workloads, 3 policies, 0 warnings.")
    assertContains(response, "backend-from-frontend")
    assertContains(response, "frontend")
    assert cluster.head.message == "Initial upload"


def test_the_summary_lists_every_warning_with_its_file_and_line(browser, corpus_cases):
    folder = corpus_cases / "onlineboutique_workloads" / "input"
    pairs = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
    response = browser.post(NEW, {"name": "boutique", "files": files(pairs)}, follow=True)
    assertContains(response, "5 namespaces, 12 workloads, 11 policies, 4 warnings")
    warnings = response.content.decode().split('data-testid="warnings"')[1].split("</section>")[0]
    assert warnings.count("<tr>") == 1 + 4  # header row + one per warning
    for line in ("137", "53", "243", "323"):
        assert f'<td class="num mono">{line}</td>' in warnings
    assert warnings.count("netpols.yaml") == 4


def test_pasted_yaml_is_uploaded_too(browser, web_data):
    text = (web_data / "shop.yaml").read_text()
    browser.post(NEW, {"name": "pasted", "manifests": text})
    revision = Cluster.objects.get(name="pasted").head
    assert revision.workloads.count() == 2
    assert revision.workloads.first().source_file == "pasted.yaml"


@pytest.mark.parametrize(("archive", "pack"), [("shop.zip", zip_of), ("shop.tar.gz", tar_gz_of)])
def test_archives_are_unpacked(browser, shop_files, archive, pack):
    pairs = [(f"k8s/{name}", content) for name, content in shop_files]
    upload = SimpleUploadedFile(archive, pack(pairs))
    browser.post(NEW, {"name": "archived", "files": [upload]})
    revision = Cluster.objects.get(name="archived").head
    assert revision.policies.count() == 3
    assert set(revision.policies.values_list("source_file", flat=True)) == {
        f"{archive}/k8s/shop-policies.yaml"
    }


@pytest.mark.parametrize(("archive", "pack"), [("evil.zip", zip_of), ("evil.tar.gz", tar_gz_of)])
def test_an_archive_entry_outside_the_archive_rejects_the_whole_upload(
    browser, shop_files, archive, pack
):
    upload = SimpleUploadedFile(archive, pack([*shop_files, ("../evil.yaml", shop_files[0][1])]))
    before = rows()
    response = browser.post(NEW, {"name": "evil", "files": [upload]})
    assert response.status_code == 422
    assertContains(
        response, "entry &#x27;../evil.yaml&#x27; has a &#x27;..&#x27; path", status_code=422
    )
    assertContains(response, "nothing was stored", status_code=422)
    assert rows() == before


def test_invalid_manifests_re_render_the_form_with_every_error_located(
    browser, web_data, shop_files
):
    pairs = [*shop_files, ("invalid-policy.yaml", (web_data / "invalid-policy.yaml").read_bytes())]
    before = rows()
    response = browser.post(NEW, {"name": "broken", "files": files(pairs)})
    assert response.status_code == 422
    assert rows() == before
    page = response.content.decode()
    assert "The upload has 2 errors; nothing was stored." in page
    assert page.count('<td class="mono">invalid-policy.yaml</td>') == 2
    assert "spec.ingress[0].ports[0].port" in page
    assert "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator" in page
    assert '<td class="num mono">10</td>' in page
    assert 'value="broken"' in page  # what the user typed survives


def test_a_yaml_alias_bomb_is_rejected_with_a_clear_message(browser, web_data):
    bomb = (web_data / "alias-bomb.yaml").read_bytes()
    before = rows()
    response = browser.post(NEW, {"name": "bomb", "files": files([("bomb.yaml", bomb)])})
    assertContains(response, "alias bomb", status_code=422)
    assert rows() == before


def test_an_upload_over_the_size_limit_is_refused(browser, shop_files, settings):
    settings.NETVIZ_MAX_UPLOAD_BYTES = 1000
    before = rows()
    response = browser.post(NEW, {"name": "big", "files": files(shop_files)})
    assertContains(response, "the limit is 0.0 MB", status_code=422)
    assert rows() == before


def test_an_upload_needs_files_or_text(browser):
    response = browser.post(NEW, {"name": "empty"})
    assertContains(response, "Choose or drop manifest files, or paste YAML.", status_code=422)
    assert not Cluster.objects.exists()


def test_cluster_names_are_unique_per_user(browser, shop_cluster, shop_files):
    response = browser.post(NEW, {"name": "shop", "files": files(shop_files)})
    assertContains(response, "You already have a cluster named &#x27;shop&#x27;.", status_code=422)


def test_htmx_errors_swap_the_form_partial_in_place(browser, web_data):
    bad = [("invalid-policy.yaml", (web_data / "invalid-policy.yaml").read_bytes())]
    response = browser.post(NEW, {"name": "x", "files": files(bad)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith("<form")
    assert "<html" not in page
    assert 'data-testid="upload-errors"' in page


def test_htmx_success_redirects_the_browser_to_the_cluster(browser, shop_files):
    response = browser.post(
        NEW, {"name": "shop", "files": files(shop_files)}, headers={"HX-Request": "true"}
    )
    cluster = Cluster.objects.get(name="shop")
    assert response["HX-Redirect"] == f"/clusters/{cluster.pk}/"


def test_uploading_into_a_cluster_makes_a_new_revision(browser, shop_cluster, web_data):
    only_workloads = files([("shop.yaml", (web_data / "shop.yaml").read_bytes())])
    url = f"/clusters/{shop_cluster.pk}/upload/"
    # The policies would be dropped: the form says so first, and stores on the second send.
    response = browser.post(url, {"files": only_workloads, "message": "drop the policies"})
    assertContains(response, "Policies no longer present", status_code=422)
    assert shop_cluster.revisions.count() == 1
    again = files([("shop.yaml", (web_data / "shop.yaml").read_bytes())])
    response = browser.post(
        url, {"files": again, "message": "drop the policies", "confirm_drops": "on"}
    )
    assertRedirects(response, f"/clusters/{shop_cluster.pk}/")
    head = shop_cluster.head
    assert (head.number, head.message, head.policies.count()) == (2, "drop the policies", 0)
    assert shop_cluster.revisions.get(number=1).policies.count() == 3


def test_a_bad_upload_into_a_cluster_stores_nothing(browser, shop_cluster, web_data):
    bad = files([("invalid-policy.yaml", (web_data / "invalid-policy.yaml").read_bytes())])
    before = rows()
    response = browser.post(f"/clusters/{shop_cluster.pk}/upload/", {"files": bad})
    assertContains(response, "spec.ingress[0].ports[0].port", status_code=422)
    assertNotContains(response, 'name="name"', status_code=422)  # the cluster has its name
    assert rows() == before


def test_the_cluster_page_offers_the_upload_form_to_editors(browser, shop_cluster):
    response = browser.get(f"/clusters/{shop_cluster.pk}/")
    assertContains(response, f'hx-post="/clusters/{shop_cluster.pk}/upload/"')
