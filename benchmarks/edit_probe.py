"""Edit timings against a running server (called by web_probe.py, inside its session).

On the uploaded cluster: the editor's impact preview of one edited policy, the editor's save
of the same kind of edit, the API's PUT of it (both with their base revision), and the
history page once 30 revisions exist. Each edit adds a port to one policy, a new one each
time, so every save really changes connectivity.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import yaml

EDITS = 15  # of each kind (save, PUT): with the upload, 31 revisions for the history page


def _edited(text: str, port: int) -> str:
    policy = yaml.safe_load(text)
    rule = {"from": [{"podSelector": {}}], "ports": [{"port": port, "protocol": "TCP"}]}
    policy["spec"].setdefault("ingress", []).append(rule)
    types = policy["spec"].setdefault("policyTypes", ["Ingress"])
    if "Ingress" not in types:
        types.append("Ingress")
    return yaml.safe_dump(policy, sort_keys=False)


def _timed(call, *args, **kwargs) -> tuple[float, Any]:
    """Seconds a request took, and its answer (which must be a success)."""
    t0 = time.perf_counter()
    answer = call(*args, **kwargs)
    seconds = time.perf_counter() - t0
    if not answer.ok:
        raise RuntimeError(f"{answer.status} from {answer.url}: {answer.text()[:500]}")
    return seconds, answer


def measure(base: str, cluster_id: int, token: str, request) -> dict[str, Any]:
    """`request` is a logged-in Playwright APIRequestContext (the editor's session)."""
    api = {"Authorization": f"Bearer {token}"}
    export = request.get(f"{base}/api/clusters/{cluster_id}/export.yaml", headers=api).text()
    first = next(d for d in yaml.safe_load_all(export) if d)
    namespace, name = first["metadata"]["namespace"], first["metadata"]["name"]
    url = f"{base}/api/clusters/{cluster_id}/policies/{namespace}/{name}"
    text = request.get(url, headers=api).text()
    csrf = next(c["value"] for c in request.storage_state()["cookies"] if c["name"] == "csrftoken")
    editor = f"{base}/clusters/{cluster_id}/editor/"
    headers = {"X-CSRFToken": csrf, "Referer": f"{base}/clusters/{cluster_id}/"}
    head = 1
    preview, save, put = [], [], []
    for i in range(EDITS):
        form = {"yaml": _edited(text, 7000 + i), "original": f"{namespace}/{name}"}
        seconds, answer = _timed(request.post, editor + "check", form=form, headers=headers)
        if not answer.json()["valid"]:
            raise RuntimeError(f"the edit is not valid: {answer.text()[:500]}")
        preview.append(seconds)
        form["base_revision"] = str(head)
        seconds, answer = _timed(request.post, editor + "save", form=form, headers=headers)
        head = answer.json()["revision"]
        save.append(seconds)
        put_headers = {**api, "If-Match": f'"{head}"', "Content-Type": "application/yaml"}
        seconds, answer = _timed(
            request.put, url, data=_edited(text, 8000 + i), headers=put_headers
        )
        head = answer.json()["revision"]
        put.append(seconds)
    history = []
    for _ in range(3):
        seconds, answer = _timed(request.get, f"{base}/clusters/{cluster_id}/history/")
        if answer.text().count('data-testid="revision-row"') != head:
            raise RuntimeError("the history page does not list every revision")
        history.append(seconds)
    preview_s, save_s, put_s = (statistics.median(x) for x in (preview, save, put))
    return {
        "edit_preview_s": preview_s,
        "edit_save_s": save_s,
        "save_beyond_preview_s": save_s - preview_s,
        "api_put_s": put_s,
        "put_beyond_preview_s": put_s - preview_s,
        "history_revisions": head,
        "history_s": min(history),
        "edit_spread": {
            "preview": [min(preview), max(preview)],
            "save": [min(save), max(save)],
            "put": [min(put), max(put)],
            "history": [min(history), max(history)],
        },
    }
