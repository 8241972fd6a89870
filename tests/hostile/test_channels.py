"""Every hostile case through every channel that takes it: the upload form, the API's upload,
the editor's check and save, the API's preview and PUT. Each answers a located error or a
clean result: never a 500, never a traceback in the log, nothing stored on error."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from policies.models import Cluster, Revision
from policies.tokens import create_token
from tests.hostile.cases import Case, archive_cases, manifest_cases


def _params(cases: list[Case]) -> list:
    return [pytest.param(c, id=c.name) for c in cases]


MANIFESTS = _params(manifest_cases())
ARCHIVES = _params(archive_cases())


def _uploads(case: Case) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, content) for name, content in case.files]


def upload_form(client: Client, api: Client, cluster: Cluster, case: Case):
    return client.post("/clusters/new/", {"name": f"h-{case.name}", "files": _uploads(case)})


def api_upload(client: Client, api: Client, cluster: Cluster, case: Case):
    return api.post("/api/clusters/", {"name": f"h-{case.name}", "files": _uploads(case)})


def editor_check(client: Client, api: Client, cluster: Cluster, case: Case):
    # As the editor sends it: url-encoded, so that bytes that are not UTF-8 arrive as bytes.
    return client.post(
        f"/clusters/{cluster.pk}/editor/check",
        _urlencoded(yaml=case.text),
        "application/x-www-form-urlencoded",
    )


def editor_save(client: Client, api: Client, cluster: Cluster, case: Case):
    return client.post(
        f"/clusters/{cluster.pk}/editor/save",
        _urlencoded(yaml=case.text, base_revision=b"1"),
        "application/x-www-form-urlencoded",
    )


def api_preview(client: Client, api: Client, cluster: Cluster, case: Case):
    return api.post(f"/api/clusters/{cluster.pk}/preview", case.text, "application/yaml")


def api_put(client: Client, api: Client, cluster: Cluster, case: Case):
    return api.put(f"/api/clusters/{cluster.pk}/policies/shop/p", case.text, "application/yaml")


def _urlencoded(**fields: bytes) -> bytes:
    from urllib.parse import quote_from_bytes

    return b"&".join(f"{k}=".encode() + quote_from_bytes(v).encode() for k, v in fields.items())


Channel = Callable[[Client, Client, Cluster, Case], object]
TEXT_CHANNELS = [editor_check, editor_save, api_preview, api_put]
UPLOAD_CHANNELS = [upload_form, api_upload]


def _errors(response) -> list[dict]:
    """The located errors a response carries (JSON, the editor's check, or the form)."""
    if response.get("Content-Type", "").startswith("application/json"):
        data = response.json()
        if "errors" in data:
            return data["errors"]
        if data.get("valid") is False:
            return [d for d in data["diagnostics"] if d["severity"] == "error"]
        return []
    if response.get("Content-Type", "").startswith("text/plain"):
        return [{"file": "request", "message": response.content.decode()}]
    form = response.context["form"] if response.context else None
    if form is None:
        return []
    return form.located_errors or [
        {"file": "form", "path": f, "message": m} for f, ms in form.errors.items() for m in ms
    ]


def _run(channel: Channel, case: Case, owner, cluster, settings, caplog) -> None:
    for name, value in case.settings.items():
        setattr(settings, name, value)
    client = Client()
    client.force_login(owner)
    _, token = create_token(owner, "hostile")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    stored = (Cluster.objects.count(), Revision.objects.count())
    with caplog.at_level(logging.WARNING):
        response = channel(client, api, cluster, case)
    assert response.status_code < 500
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    errors = _errors(response)
    clean = response.status_code in (200, 201, 302) and not errors
    if clean:
        return
    assert response.status_code in (200, 400, 404, 409, 413, 422), response.status_code
    assert errors, response.content[:500]
    for error in errors:
        # Located: in a file (or the request, or a form field), at a line or a field path.
        assert error.get("file") or error.get("path") or error.get("line"), error
        assert error["message"]
    assert (Cluster.objects.count(), Revision.objects.count()) == stored


@pytest.mark.django_db
@pytest.mark.parametrize("channel", TEXT_CHANNELS + UPLOAD_CHANNELS)
@pytest.mark.parametrize("case", MANIFESTS)
def test_a_hostile_manifest_gets_a_located_error_or_a_clean_result(
    channel, case, owner, cluster, settings, caplog, guard
):
    guard(case)
    _run(channel, case, owner, cluster, settings, caplog)


@pytest.mark.django_db
@pytest.mark.parametrize("channel", UPLOAD_CHANNELS)
@pytest.mark.parametrize("case", ARCHIVES)
def test_a_hostile_archive_gets_a_located_error_or_a_clean_result(
    channel, case, owner, cluster, settings, caplog
):
    _run(channel, case, owner, cluster, settings, caplog)


@pytest.mark.django_db
@pytest.mark.parametrize("channel", UPLOAD_CHANNELS)
def test_the_clean_controls_are_stored(channel, owner, cluster, settings, caplog):
    # The suite's controls: a hostile harness that refused everything would prove nothing.
    for case in [c for c in manifest_cases() + archive_cases() if "clean" in c.name]:
        before = Cluster.objects.count()
        _run(channel, case, owner, cluster, settings, caplog)
        assert Cluster.objects.count() == before + 1, case.name
