"""Memory of long-running processes over many uploads: the issue's 500 sequential uploads of S.

    python benchmarks/upload_soak.py [COUNT] [--route=inline|worker] [--debug] [--in-process]

By default, real processes as `make serve` runs them: gunicorn (netviz.wsgi) and the analysis
worker (`manage.py db_worker`) on a throwaway SQLite database. COUNT uploads of the generated
size S go, one after the other, through `POST /api/clusters/<id>/uploads` (token auth) as new
revisions of one cluster; each waits for its answer and, when the worker analyses it, for
the cluster to be ready again. The resident memory (VmRSS) of the gunicorn worker and of the
db_worker is read after upload 50 and after the last: the growth between them is what a
long-running process keeps per upload.

Routes: `inline` (S as it is: below NETVIZ_ANALYSE_INLINE_BELOW, so the web process analyses
it in the request and the db_worker idles), `worker` (the threshold set to 1, so every upload
is stored by the web process and analysed by the db_worker). gunicorn runs one worker, so
that every upload lands in the same process, and without `max_requests`: the recycling
`make serve` sets is a safety net that would hide a leak, not what is measured here.

`--debug` runs them with DEBUG on, as `make run` does. `--in-process` is the earlier
probe: the writer and the worker's derive step in this one process.
Prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import secrets
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
WARM_UP = 50  # uploads before the first reading
ROUTES = ("inline", "worker")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def in_process(count: int) -> dict[str, Any]:
    """The writer and the derive step in this one process (no server, no worker)."""
    work = Path(tempfile.mkdtemp(prefix="netviz-soak-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'soak.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netviz.settings")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import django

    django.setup()
    import generate
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from policies import revisions, snapshots

    call_command("migrate", verbosity=0)
    generate.generate("S", work / "S")
    files = [(p.name, p.read_bytes()) for p in sorted((work / "S").glob("*.yaml"))]
    user = User.objects.create_user("soak", password="unused-0")
    cluster = revisions.create_cluster(user, "soak", snapshots.parse_manifests(files))
    marks = {}
    for n in range(1, count + 1):
        revisions.upload_revision(cluster, user, snapshots.parse_manifests(files))
        if n in (WARM_UP, count):
            gc.collect()
            marks[n] = _rss_mb()
    growth = marks[count] - marks[WARM_UP]
    print(json.dumps({"uploads": count, "rss_after_50_mb": marks[WARM_UP],
                      "rss_end_mb": marks[count], "growth_mb": growth}))  # fmt: skip
    return {"uploads": count, "growth_mb": growth}


def _process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _post(url: str, token: str, body: bytes, content_type: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.load(response)


def real_processes(
    count: int, route: str, marks_every: int = 50, debug: bool = False
) -> dict[str, Any]:
    """COUNT uploads of S through a real gunicorn and db_worker; their RSS along the way."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generate
    import web_probe

    work = Path(tempfile.mkdtemp(prefix="netviz-soak-"))
    generate.generate("S", work / "S")
    files = sorted((work / "S").glob("*.yaml"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'soak.sqlite3'}",
        # DEBUG off, as `make serve` runs: with it on, every process that is not answering a
        # request (the db_worker) keeps the last 9,000 queries it made, SQL text and all.
        "NETVIZ_DEBUG": "true" if debug else "false",
        "NETVIZ_SECRET_KEY": secrets.token_urlsafe(50),
    }
    if route == "worker":
        env["NETVIZ_ANALYSE_INLINE_BELOW"] = "1"
    series: list[dict[str, float]] = []
    # without max_requests: recycling the worker would hide a leak
    with web_probe.served(env, interval=0.05, gunicorn=("--max-requests", "0")) as served:
        base, token, server, worker = served
        [web_pid] = _children(server.pid)  # the one gunicorn worker (it is never recycled)
        body, content_type = web_probe._multipart({"name": "soak"}, files)
        cluster_id = _post(f"{base}/api/clusters/", token, body, content_type)["id"]
        web_probe._analysed(base, token, cluster_id)
        t0 = time.perf_counter()
        for n in range(1, count + 1):
            body, content_type = web_probe._multipart({"message": f"upload {n}"}, files)
            answer = _post(f"{base}/api/clusters/{cluster_id}/uploads", token, body, content_type)
            if answer["status"] != "ready":
                web_probe._analysed(base, token, cluster_id)
            if n % marks_every == 0 or n in (WARM_UP, count):
                series.append(
                    {
                        "upload": n,
                        "seconds": time.perf_counter() - t0,
                        "web_mb": _process_rss_mb(web_pid),
                        "worker_mb": _process_rss_mb(worker.pid),
                    }
                )
        assert _children(server.pid) == [web_pid], "gunicorn replaced its worker"
    first = next(m for m in series if m["upload"] == WARM_UP)
    last = series[-1]
    return {
        "route": route,
        "uploads": count,
        "seconds": last["seconds"],
        "web_after_50_mb": first["web_mb"],
        "web_end_mb": last["web_mb"],
        "web_growth_mb": last["web_mb"] - first["web_mb"],
        "worker_after_50_mb": first["worker_mb"],
        "worker_end_mb": last["worker_mb"],
        "worker_growth_mb": last["worker_mb"] - first["worker_mb"],
        "series": series,
    }


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    count = int(args[0]) if args else 500
    if count < WARM_UP:
        print(f"COUNT must be at least {WARM_UP}", file=sys.stderr)
        return 2
    if "--in-process" in argv:
        in_process(count)
        return 0
    route = "inline"
    for a in argv:
        if a.startswith("--route="):
            route = a.split("=", 1)[1]
    if route not in ROUTES:
        print(f"--route must be one of {', '.join(ROUTES)}", file=sys.stderr)
        return 2
    print(json.dumps(real_processes(count, route, debug="--debug" in argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
