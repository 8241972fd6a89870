"""Idempotency-Key on API uploads: the same request again replays the first answer (whatever
its multipart boundary), another request under the same key is 422, and keys expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart
from django.utils import timezone

from policies.models import Cluster, IdempotencyKey, Revision

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(api_client_for, owner):
    return api_client_for(owner)


def upload(api, files, name: str = "prod", key: str = "", boundary: str = "", **fields):
    """POST /api/clusters/ as multipart, with this boundary (a client draws one per try)."""
    data = {"name": name, "files": [SimpleUploadedFile(n, c) for n, c in files], **fields}
    headers = {"Idempotency-Key": key} if key else {}
    if not boundary:
        return api.post("/api/clusters/", data, headers=headers)
    return api.generic(
        "POST",
        "/api/clusters/",
        encode_multipart(boundary, data),
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


def test_the_same_request_again_replays_the_first_answer_whatever_its_boundary(api, shop_files):
    first = upload(api, shop_files, key="k-1", boundary="one-boundary")
    again = upload(api, shop_files, key="k-1", boundary="a-new-boundary-drawn-for-the-retry")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (Cluster.objects.count(), Revision.objects.count()) == (1, 1)


@pytest.mark.parametrize(
    "change",
    [
        {"name": "staging"},  # another field
        {"message": "second try"},  # a field the first had not
        {"files": "content"},  # the same file name, other bytes
        {"files": "name"},  # the same bytes under another name
    ],
)
def test_the_same_key_with_a_different_request_is_422_and_stores_nothing(api, shop_files, change):
    first = upload(api, shop_files, key="k-2")
    assert first.status_code == 201
    files, fields = list(shop_files), dict(change)
    kind = fields.pop("files", "")
    if kind == "content":
        files[0] = (files[0][0], files[0][1] + b"\n# edited\n")
    elif kind == "name":
        files[0] = ("renamed.yaml", files[0][1])
    response = upload(api, files, key="k-2", **({"name": "prod"} | fields))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["path"] == "Idempotency-Key"
    assert error["message"] == (
        "the Idempotency-Key 'k-2' was already used for a different request; "
        "send a new key for a new upload"
    )
    assert "Idempotent-Replayed" not in response.headers
    assert (Cluster.objects.count(), Revision.objects.count()) == (1, 1)
    # The first request itself still replays.
    assert upload(api, shop_files, key="k-2").json() == first.json()


def test_a_key_expires_after_a_day_and_is_pruned_on_the_next_write(
    api, api_client_for, make_user, shop_files, settings
):
    assert settings.NETVIZ_IDEMPOTENCY_KEY_TTL == 24 * 3600
    first = upload(api, shop_files, key="k-3")
    other = api_client_for(make_user("rita"))
    upload(other, shop_files, key="rita-key")
    IdempotencyKey.objects.update(created=timezone.now() - timedelta(hours=25))
    # Expired: the same request is a new upload (here refused: the name is taken)...
    assert upload(api, shop_files, key="k-3").status_code == 400
    # ... and the key is free for another request, which prunes every expired key.
    again = upload(api, shop_files, name="prod-2", key="k-3")
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again.headers
    [record] = IdempotencyKey.objects.all()
    assert (record.key, record.cluster_id) == ("k-3", again.json()["id"])


def test_a_key_younger_than_a_day_still_replays(api, shop_files):
    first = upload(api, shop_files, key="k-4")
    IdempotencyKey.objects.update(created=timezone.now() - timedelta(hours=23))
    again = upload(api, shop_files, key="k-4")
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
