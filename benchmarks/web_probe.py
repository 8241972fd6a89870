"""Web timings for one generated cluster, against a real server and Debian's chromium.

    python benchmarks/web_probe.py DIR

Starts gunicorn and the analysis worker (`manage.py db_worker`) on a throwaway SQLite
database, then measures: the upload of every file of DIR through the JSON API
(`POST /api/clusters/`, token auth) until it is answered, then until its analysis is done
(the cluster list says `ready`: the graph is stored), the first and a repeated fetch
of the graph JSON (aggregated above 300 workloads) and its size, how long the cluster page
takes in chromium until its graph is interactive (`netviz:ready`), and the edit timings of
edit_probe.py (preview, save, API PUT, history). Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import edit_probe

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
CHROMIUM = "/usr/bin/chromium"
USER, PASSWORD = "bench", "bench-" + secrets.token_hex(8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(PYTHON), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return out.stdout.strip()


def _multipart(fields: dict[str, str], files: list[Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        disposition = f'Content-Disposition: form-data; name="{name}"'
        parts.append(f"--{boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode())
    for path in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files";'
            f' filename="{path.name}"\r\nContent-Type: application/yaml\r\n\r\n'
        )
        parts.append(head.encode() + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer at {url}")


def _analysed(base: str, token: str, cluster_id: int, seconds: float = 120) -> float:
    """When (perf_counter) the cluster list first says the cluster's analysis is done."""
    deadline = time.monotonic() + seconds
    request = urllib.request.Request(
        f"{base}/api/clusters/", headers={"Authorization": f"Bearer {token}"}
    )
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request, timeout=30) as response:
            clusters = {c["id"]: c for c in json.load(response)["clusters"]}
        status = clusters[cluster_id]["status"]
        if status == "ready":
            return time.perf_counter()
        if status not in ("pending", "analysing"):
            raise RuntimeError(f"the analysis of the upload ended as {status!r}")
        time.sleep(0.05)
    raise RuntimeError("the upload was not analysed in time")


def _tree(pid: int) -> list[int]:
    """A process and its descendants (gunicorn's workers are children of its master)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return out


def _memory_mb(pid: int, field: str) -> float:
    """The largest `field` (VmHWM: peak, VmRSS: now) among a process tree, in MB."""
    best = 0.0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    best = max(best, int(line.split()[1]) / 1024)
        except OSError:
            pass
    return best


def _peak_mb(pid: int) -> float:
    return _memory_mb(pid, "VmHWM")


STREAM_SECONDS = 15  # of the connections stream read: an open cluster's is 10^8 flows


def _stream(base: str, token: str, cluster_id: int, server: int) -> dict[str, Any]:
    """Read the streamed connections API for a while: its rate, and the server's memory
    while it streams (it must stay flat whatever the size of the answer)."""
    request = urllib.request.Request(
        f"{base}/api/clusters/{cluster_id}/connections",
        headers={"Authorization": f"Bearer {token}"},
    )
    read, rss = 0, 0.0
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        while time.perf_counter() - t0 < STREAM_SECONDS:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            read += len(chunk)
            rss = max(rss, _memory_mb(server, "VmRSS"))
    seconds = time.perf_counter() - t0
    return {"stream_mb": read / 1e6, "stream_s": seconds, "stream_rss_mb": rss}


@contextmanager
def served(
    env: dict[str, str], interval: float, gunicorn: Sequence[str] = ()
) -> Iterator[tuple[str, str, subprocess.Popen, subprocess.Popen]]:
    """A migrated database with the bench user and an API token, gunicorn (one worker, as
    `make serve` runs it, plus `gunicorn` arguments) and a db_worker polling every `interval`
    seconds on it: (base URL, token, gunicorn, db_worker), both stopped on the way out."""
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        f"User.objects.create_user({USER!r}, password={PASSWORD!r})",
    )
    token = _manage(env, "create_api_token", USER).splitlines()[-1]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(PYTHON.parent / "gunicorn"), "netviz.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "300", *gunicorn],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(PYTHON), "manage.py", "db_worker", "--no-reload", "--no-startup-delay",
         "--interval", str(interval), "-v0"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for(f"{base}/accounts/login/")
        yield base, token, server, worker
    finally:
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def probe(cluster: Path) -> dict[str, Any]:
    """Measure one cluster; the result is what the probe prints."""
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="netviz-web-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'web.sqlite3'}",
        "NETVIZ_DEBUG": "true",  # static files from the app folders, cookies over plain http
    }
    with served(env, interval=0.2) as (base, token, server, worker):
        body, content_type = _multipart({"name": "bench"}, sorted(cluster.glob("*.yaml")))
        request = urllib.request.Request(
            f"{base}/api/clusters/",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as response:
            cluster_id = json.load(response)["id"]
        upload_s = time.perf_counter() - t0
        analysed_s = _analysed(base, token, cluster_id) - t0 - upload_s
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
            )
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{base}/accounts/login/")
            page.fill("input[name=username]", USER)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            graph_url = f"{base}/clusters/{cluster_id}/graph.json"
            timings = []
            for _ in range(2):  # the first may build the cache; the second is what users get
                t0 = time.perf_counter()
                graph = page.request.get(graph_url)
                timings.append(time.perf_counter() - t0)
                size = len(graph.body())
            mode = graph.json().get("mode")
            page.add_init_script(
                "document.addEventListener('netviz:ready', () =>"
                " { window.__netvizReady = performance.now(); });"
            )
            page.goto(f"{base}/clusters/{cluster_id}/", wait_until="commit")
            # Polled with evaluate(): wait_for_function() would eval() a string, which the
            # page's Content Security Policy refuses.
            interactive_ms = None
            deadline = time.monotonic() + 120
            while interactive_ms is None and time.monotonic() < deadline:
                interactive_ms = page.evaluate("window.__netvizReady")
                if interactive_ms is None:
                    page.wait_for_timeout(50)
            page_bytes = len(page.request.get(f"{base}/clusters/{cluster_id}/").body())
            index = page.request.get(f"{graph_url}?group=ns").json()
            namespaces = [n["data"]["namespace"] for n in index["nodes"]
                          if n["data"]["type"] == "namespace-aggregate"]  # fmt: skip
            t0 = time.perf_counter()
            expanded = page.request.get(f"{graph_url}?expand={namespaces[0]}").json()
            expand_s = time.perf_counter() - t0
            ids = [n["data"]["id"] for n in expanded["nodes"]
                   if n["data"]["type"] in ("workload", "group")]  # fmt: skip
            explain_s = None
            if len(ids) >= 2:
                t0 = time.perf_counter()
                page.request.get(
                    f"{base}/clusters/{cluster_id}/explain/",
                    params={"src": ids[0], "dst": ids[1]},
                    headers={"HX-Request": "true"},
                )
                explain_s = time.perf_counter() - t0
            has_policies = bool(
                page.request.get(
                    f"{base}/api/clusters/{cluster_id}/export.yaml",
                    headers={"Authorization": f"Bearer {token}"},
                )
                .text()
                .strip()
            )
            edits = (
                edit_probe.measure(base, cluster_id, token, page.request) if has_policies else {}
            )
            browser.close()
        stream = _stream(base, token, cluster_id, server.pid)
        web_peak_mb, worker_peak_mb = _peak_mb(server.pid), _peak_mb(worker.pid)
        peak_mb = max(web_peak_mb, worker_peak_mb)
    return {
        "upload_s": upload_s,
        "analysed_s": analysed_s,
        "graph_first_s": timings[0],
        "graph_s": timings[1],
        "graph_bytes": size,
        "graph_mode": mode,
        "page_interactive_s": interactive_ms / 1000 if interactive_ms is not None else None,
        "page_bytes": page_bytes,
        "expand_s": expand_s,
        "explain_s": explain_s,
        "server_peak_mb": peak_mb,
        "web_peak_mb": web_peak_mb,  # which of the two it was
        "worker_peak_mb": worker_peak_mb,
        **stream,
        **edits,
    }


def main(argv: list[str]) -> int:
    """Command line: print the measurements for the cluster in argv[0]."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(probe(Path(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
