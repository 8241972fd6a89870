"""Concurrent writers against a production-like server: 0 server errors is the pass mark.

    .venv/bin/python benchmarks/load.py                       # SQLite (a throwaway file)
    bash scripts/with-postgres.sh .venv/bin/python benchmarks/load.py --database env

Starts gunicorn as `make serve` does (DEBUG off, its own secret key, `$WEB_CONCURRENCY`
workers, default 3) on 127.0.0.1 only, on a throwaway database (`--database env` takes
DATABASE_URL, e.g. the throwaway PostgreSQL of scripts/with-postgres.sh). Then `--writers`
threads (8) write through the JSON API for `--seconds` (30), each bounded by `--max-requests`:
half of them edit one shared policy from the revision they last read (If-Match: 200 or 409),
the others edit and delete policies of their own, upload new clusters, and preview. Prints
counts by status and exits 1 on any 5xx or failed connection.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
DATA = ROOT / "tests" / "data" / "web"
HOST = "127.0.0.1"  # loopback only

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  ingress: [{{ports: [{{port: {port}}}]}}]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip


def _multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts = []
    for key, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, content in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/yaml\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Writer:
    """One client thread: its own counts, requests until the deadline or its budget."""

    def __init__(self, base: str, token: str, cluster: int, index: int) -> None:
        self.base, self.token, self.cluster, self.index = base, token, cluster, index
        self.counts: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []

    def request(self, op: str, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, dict]:  # fmt: skip
        request = urllib.request.Request(
            self.base + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, data, head = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, data, head = exc.code, exc.read(), dict(exc.headers)
        except OSError as exc:
            self.counts[f"{op} failed"] += 1
            self.failures.append(f"{op}: {exc}")
            return 0, b"", {}
        self.counts[f"{op} {status}"] += 1
        if status >= 500:
            self.failures.append(f"{op} {status}: {data[:300]!r}")
        return status, data, head

    def run(self, deadline: float, budget: int) -> None:
        policy = f"/api/clusters/{self.cluster}/policies/shop"
        n = 0
        while time.monotonic() < deadline and n < budget:
            n += 1
            port = 1 + (self.index * 10_000 + n) % 65_535
            if self.index % 2 == 0:
                # Everyone edits `shared` from the revision they read: some lose the race.
                _, _, head = self.request("read", "GET", f"{policy}/shared")
                etag = head.get("ETag", "")
                text = POLICY.format(name="shared", port=port).encode()
                headers = {"Content-Type": "application/yaml", "If-Match": etag}
                self.request("edit-shared", "PUT", f"{policy}/shared", text, headers)
            elif self.index % 4 == 1:
                own = f"w{self.index}-{n % 5}"
                text = POLICY.format(name=own, port=port).encode()
                self.request("edit-own", "PUT", f"{policy}/{own}", text,
                             {"Content-Type": "application/yaml"})  # fmt: skip
                if n % 3 == 0:
                    self.request("delete-own", "DELETE", f"{policy}/{own}")
            elif n % 2:
                files = [(p.name, p.read_bytes()) for p in sorted(DATA.glob("shop*.yaml"))]
                body, kind = _multipart({"name": f"load-{self.index}-{n}"}, files)
                self.request("upload", "POST", "/api/clusters/", body, {"Content-Type": kind})
            else:
                text = POLICY.format(name=f"p{self.index}", port=port).encode()
                self.request("preview", "POST", f"/api/clusters/{self.cluster}/preview", text,
                             {"Content-Type": "application/yaml"})  # fmt: skip


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped (exit {server.returncode})")
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer on {url}")


def run(writers: int, seconds: float, database: str, workers: int, budget: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="netviz-load-"))
    env = {
        **os.environ,
        "NETVIZ_DEBUG": "false",
        "NETVIZ_SECRET_KEY": secrets.token_urlsafe(50),
        "NETVIZ_SECURE_COOKIES": "false",
    }
    if database == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{work / 'load.sqlite3'}"
    elif not env.get("DATABASE_URL"):
        raise SystemExit("--database env needs DATABASE_URL")
    engine = env["DATABASE_URL"].split(":", 1)[0]
    _manage(env, "migrate", "--noinput", "-v0")
    created = _manage(
        env, "shell", "-c",
        "from django.contrib.auth.models import User;"
        "from policies import revisions, snapshots;"
        "from pathlib import Path;"
        "u = User.objects.create_user('loader', password=None);"
        f"paths = sorted(Path({str(DATA)!r}).glob('shop*.yaml'));"
        "files = [(p.name, p.read_bytes()) for p in paths];"
        "print(revisions.create_cluster(u, 'load', snapshots.parse_manifests(files)).pk)",
    )  # fmt: skip
    cluster = int(created.split()[-1])
    token = _manage(env, "create_api_token", "loader").splitlines()[-1]
    port = _free_port()
    base = f"http://{HOST}:{port}"
    log = open(work / "gunicorn.log", "w")  # noqa: SIM115 (kept open for the server's life)
    server = subprocess.Popen(
        [str(PYTHON.parent / "gunicorn"), "netviz.wsgi", "--bind", f"{HOST}:{port}",
         "--workers", str(workers), "--timeout", "120"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for(f"{base}/accounts/login/", server)
        clients = [Writer(base, token, cluster, i) for i in range(writers)]
        # Seed the shared policy so that every reader gets an ETag.
        clients[0].request("seed", "PUT", f"/api/clusters/{cluster}/policies/shop/shared",
                           POLICY.format(name="shared", port=1).encode(),
                           {"Content-Type": "application/yaml"})  # fmt: skip
        deadline = time.monotonic() + seconds
        t0 = time.monotonic()
        threads = [threading.Thread(target=c.run, args=(deadline, budget)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    counts: collections.Counter[str] = collections.Counter()
    for c in clients:
        counts.update(c.counts)
    statuses: collections.Counter[str] = collections.Counter()
    for key, count in counts.items():
        statuses[key.rsplit(" ", 1)[1]] += count
    server_log = (work / "gunicorn.log").read_text(errors="replace")
    shutil.rmtree(work, ignore_errors=True)
    return {
        "database": engine,
        "writers": writers,
        "workers": workers,
        "seconds": round(elapsed, 1),
        "requests": sum(counts.values()),
        "by_status": dict(sorted(statuses.items())),
        "by_operation": dict(sorted(counts.items())),
        "server_errors": sum(v for k, v in statuses.items() if k.startswith("5")),
        "failed_connections": statuses.get("failed", 0),
        "tracebacks_in_log": server_log.count("Traceback"),
        "failures": [f for c in clients for f in c.failures][:10],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-requests", type=int, default=5000, help="per writer")
    parser.add_argument("--database", choices=["sqlite", "env"], default="sqlite")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 3)))
    args = parser.parse_args(argv)
    result = run(args.writers, args.seconds, args.database, args.workers, args.max_requests)
    print(json.dumps(result, indent=2))
    bad = result["server_errors"] or result["failed_connections"] or result["tracebacks_in_log"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
