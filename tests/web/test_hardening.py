"""Issue 13: values no database column can hold, oversized bodies, bytes that are not UTF-8,
password reset without mail, and the development secret key in production."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from policies.models import Cluster, Policy, Revision

ROOT = Path(__file__).resolve().parents[2]

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {namespace}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
"""


@pytest.fixture
def api(api_client_for, owner):
    return api_client_for(owner)


@pytest.fixture
def browser(client_for, owner):
    return client_for(owner)


def _no_server_errors(caplog) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == [], [r.getMessage() for r in bad]


# --- oversized bodies on JSON endpoints ---------------------------------------------------------


@pytest.fixture
def small_cap(settings):
    settings.NETVIZ_MAX_UPLOAD_BYTES = 2000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000


def _urlencoded(fields: dict[str, bytes | str]) -> bytes:
    return b"&".join(
        quote_from_bytes(k.encode()).encode()
        + b"="
        + quote_from_bytes(v if isinstance(v, bytes) else v.encode()).encode()
        for k, v in fields.items()
    )


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("action", ["check", "save", "delete"])
def test_an_oversized_editor_body_is_413_in_the_api_error_shape(
    client_for, owner, shop_cluster, small_cap, caplog, action
):
    # A real browser sends the CSRF token, so the check reads the body before any view does.
    client = client_for(owner)
    client.handler.enforce_csrf_checks = True
    body = _urlencoded({"yaml": "x" * 5000, "base_revision": "1"})
    response = client.post(f"/clusters/{shop_cluster.pk}/editor/{action}", body, FORM)
    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert set(error) == {"file", "line", "path", "message"}
    assert "limit" in error["message"]
    _no_server_errors(caplog)


def test_an_oversized_body_that_a_view_reads_is_413_too(browser, shop_cluster, settings, caplog):
    # Django's own cap below ours: the view meets RequestDataTooBig itself.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = _urlencoded({"yaml": "x" * 50})
    response = browser.post(
        f"/clusters/{shop_cluster.pk}/editor/check", body * 3, FORM, CONTENT_LENGTH="60"
    )
    assert response.status_code in (200, 413)  # the declared length is what Django checks
    response = browser.post(f"/clusters/{shop_cluster.pk}/editor/check", body * 3, FORM)
    assert response.status_code == 413
    assert response.json()["errors"][0]["file"] == "request"
    _no_server_errors(caplog)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("put", "/api/clusters/{pk}/policies/shop/big"),
        ("post", "/api/clusters/{pk}/preview"),
    ],
)
def test_an_oversized_api_body_is_413_in_the_error_shape(
    api, shop_cluster, small_cap, caplog, method, url
):
    response = getattr(api, method)(
        url.format(pk=shop_cluster.pk), b"x" * 5000, content_type="application/yaml"
    )
    assert response.status_code == 413
    assert set(response.json()["errors"][0]) == {"file", "line", "path", "message"}
    assert Revision.objects.filter(cluster=shop_cluster).count() == 1
    _no_server_errors(caplog)


# --- UTF-8 on every channel -------------------------------------------------------------------

BAD_UTF8 = POLICY.format(name="p", namespace="shop").encode() + b"# caf\xe9\n"


def test_the_editor_refuses_bytes_that_are_not_utf8_as_the_upload_does(browser, shop_cluster):
    url = f"/clusters/{shop_cluster.pk}/editor/"
    check = browser.post(url + "check", _urlencoded({"yaml": BAD_UTF8}), FORM).json()
    assert check["valid"] is False
    assert check["diagnostics"][0]["message"] == "is not UTF-8 text"
    assert check["diagnostics"][0]["line"] == 9
    save = browser.post(url + "save", _urlencoded({"yaml": BAD_UTF8, "base_revision": "1"}), FORM)
    assert save.status_code == 400
    assert save.json()["errors"][0]["message"] == "is not UTF-8 text"
    assert shop_cluster.revisions.count() == 1


def test_the_api_and_the_upload_refuse_the_same_bytes(api, browser, shop_cluster):
    put = api.put(f"/api/clusters/{shop_cluster.pk}/policies/shop/p", BAD_UTF8, "application/yaml")
    assert put.status_code == 400
    assert put.json()["errors"][0]["message"] == "is not UTF-8 text"
    upload = browser.post(
        "/clusters/new/", {"name": "u", "files": [SimpleUploadedFile("p.yaml", BAD_UTF8)]}
    )
    assert upload.status_code == 422
    assert b"is not UTF-8 text" in upload.content


# --- names that could never be opened again -----------------------------------------------------


def test_a_policy_named_with_a_slash_is_refused_on_every_channel(api, browser, shop_cluster):
    text = POLICY.format(name="a/b", namespace="x/y")
    url = f"/clusters/{shop_cluster.pk}/editor/"
    save = browser.post(url + "save", {"yaml": text, "base_revision": "1"})
    assert save.status_code == 400
    assert [e["path"] for e in save.json()["errors"]] == ["metadata.name", "metadata.namespace"]
    upload = browser.post(
        "/clusters/new/", {"name": "slash", "files": [SimpleUploadedFile("p.yaml", text.encode())]}
    )
    assert upload.status_code == 422
    assert not Cluster.objects.filter(name="slash").exists()
    assert not Policy.objects.filter(name="a/b").exists()


@pytest.mark.parametrize("method", ["get", "delete"])
def test_api_names_no_policy_can_have_are_404_without_a_query(api, shop_cluster, method):
    # A NUL in a query is an error on PostgreSQL: such a name is answered before any lookup.
    for name in ("a%00b", "A", "x" * 300):
        response = getattr(api, method)(f"/api/clusters/{shop_cluster.pk}/policies/shop/{name}")
        assert response.status_code == 404
        assert response.json()["errors"][0]["message"].startswith("no policy shop/")


def test_editor_keys_no_policy_can_have_are_refused(browser, shop_cluster):
    url = f"/clusters/{shop_cluster.pk}/editor/"
    assert browser.get(url + "policy", {"policy": "shop/a\0b"}).status_code == 404
    response = browser.post(url + "delete", {"policy": "shop/a\0b"})
    assert response.status_code == 400
    assert (
        browser.get(f"/clusters/{shop_cluster.pk}/export.yaml?policy=sh%00op/x").status_code == 404
    )


def test_a_nul_in_an_editor_message_or_a_note_is_stored_as_a_replacement(browser, shop_cluster):
    text = (
        POLICY.format(name="p", namespace="shop")
        + '---\napiVersion: v1\nkind: "Odd\\0Kind"\nmetadata: {name: x}\n'
    )
    save = browser.post(
        f"/clusters/{shop_cluster.pk}/editor/save",
        {"yaml": text, "base_revision": "1", "message": "nul\0here"},
    )
    assert save.status_code == 200, save.content
    head = shop_cluster.head
    assert head.message == "nul\ufffdhere"
    assert any("Odd\ufffdKind" in d["message"] for d in head.diagnostics)


def test_an_archive_entry_with_a_path_too_long_for_its_row_is_refused(api):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("d/" * 600 + "p.yaml", POLICY.format(name="p", namespace="shop"))
    response = api.post(
        "/api/clusters/",
        {"name": "deep", "files": [SimpleUploadedFile("deep.zip", buffer.getvalue())]},
    )
    assert response.status_code == 400
    assert "longer than" in response.json()["errors"][0]["message"]
    assert not Cluster.objects.filter(name="deep").exists()


# --- password reset -----------------------------------------------------------------------------


def test_password_reset_is_not_offered_without_a_mail_backend(client, owner):
    assert client.get("/accounts/password_reset/").status_code == 404
    response = client.post("/accounts/password_reset/", {"email": "o@example.com"})
    assert response.status_code == 404
    assert client.get("/accounts/reset/done/").status_code == 404
    assert b"password_reset" not in client.get("/accounts/login/").content


def test_password_reset_sends_mail_when_a_backend_is_configured(client, owner, settings):
    settings.NETVIZ_PASSWORD_RESET = True
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    owner.email = "olivia@example.com"
    owner.save()
    response = client.post("/accounts/password_reset/", {"email": "olivia@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1


# --- the development secret key -----------------------------------------------------------------


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NETVIZ_")}
    clean.update(env, DJANGO_SETTINGS_MODULE="netviz.settings")
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_the_server_refuses_to_start_on_the_development_key():
    result = _python("import netviz.wsgi")
    assert result.returncode != 0
    assert "NETVIZ_SECRET_KEY is not set: refusing to serve" in result.stderr
    assert _python("import netviz.asgi").returncode != 0


@pytest.mark.parametrize(
    "env",
    [
        {"NETVIZ_SECRET_KEY": "a-long-random-key-made-for-this-test-only-0123456789-xyz"},
        {"NETVIZ_DEBUG": "true"},  # make run: the development server
    ],
)
def test_the_server_starts_with_its_own_key_or_in_debug(env):
    result = _python("import netviz.wsgi", **env)
    assert result.returncode == 0, result.stderr


def test_check_deploy_reports_the_development_key():
    result = _python(
        "import django; django.setup();"
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='CRITICAL')"
    )
    assert "netviz.E001" in result.stderr + result.stdout
    key = "a-long-random-key-made-for-this-test-only-0123456789-xyz"
    result = _python(
        "import django; django.setup();"
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='CRITICAL')",
        NETVIZ_SECRET_KEY=key,
    )
    assert "netviz.E001" not in result.stderr + result.stdout


def test_management_commands_still_run_on_the_development_key():
    result = _python(
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('check')"
    )
    assert result.returncode == 0, result.stderr


# --- bodies Django refuses to read ----------------------------------------------------------------


@pytest.mark.parametrize("url", ["/clusters/new/", "/api/clusters/"])
def test_malformed_multipart_is_a_plain_400_not_a_500(api, browser, url, caplog):
    client = api if url.startswith("/api/") else browser
    body = b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.yaml"\r\n'
    response = client.post(url, body, content_type="multipart/form-data; boundary=")
    assert response.status_code == 400
    assert "nothing was stored" in response.content.decode() or response.json()["errors"]
    _no_server_errors(caplog)


def test_too_many_files_for_the_upload_page_is_refused_without_a_traceback(
    client_for, owner, settings, caplog
):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    client = client_for(owner)
    client.handler.enforce_csrf_checks = True  # as a browser: the CSRF check reads first
    files = [SimpleUploadedFile(f"f{i}.yaml", b"# x\n") for i in range(5)]
    response = client.post("/clusters/new/", {"name": "many", "files": files})
    assert response.status_code == 400
    assert response.content.decode().startswith("Too many files: at most 3 at once")
    assert not Cluster.objects.filter(name="many").exists()
    _no_server_errors(caplog)


def test_a_stored_policy_a_stricter_loader_refuses_is_named_not_a_500(
    shop_cluster, owner, client_for
):
    # A row written by an older netviz, with a port name the loader now refuses ('a--b' got
    # through before): any view that must read the revision again says which file, line and
    # why (400), in HTML or in JSON.
    from policies import analysis, changes

    changes.delete_policy(shop_cluster, owner, "shop", "default-deny")  # a revision 2 to compare
    for row in Policy.objects.filter(revision__cluster=shop_cluster, name="backend-from-frontend"):
        Policy.objects.filter(pk=row.pk).update(
            yaml=row.yaml.replace("{port: grpc}", "{port: grpc--old}")
        )
    analysis.clear()
    client = client_for(owner)
    page = client.get(f"/clusters/{shop_cluster.pk}/compare/", {"a": 1, "b": 2})
    assert page.status_code == 400
    text = page.content.decode()
    assert 'data-testid="error-page"' in text
    assert "spec.ingress[0].ports[0].port" in text
    assert "&#x27;grpc--old&#x27; is not a valid port name" in text
    answer = client.get(f"/clusters/{shop_cluster.pk}/compare/", {"a": 1, "b": 2, "format": "json"})
    assert answer.status_code == 400  # the compare page's JSON answer is a page view's
    allow = client.get(
        f"/clusters/{shop_cluster.pk}/editor/allow-flow",
        {"src": "shop/frontend[Deployment]", "dst": "shop/backend[Deployment]"},
    )
    assert allow.status_code == 400
    [error] = allow.json()["errors"]
    assert error["path"] == "spec.ingress[0].ports[0].port"
    assert error["message"].startswith("'grpc--old' is not a valid port name")
    assert error["line"] > 0
