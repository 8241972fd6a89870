"""Memory of a long-running process over many uploads: the issue's 500 sequential uploads of S.

    python benchmarks/upload_soak.py [COUNT]

Runs in one process what a gunicorn worker and the analysis worker do for an upload: parse,
store the revision, derive it (evaluation, graph index, impact) through `policies.tasks`,
on a throwaway SQLite database. Prints the resident memory after the first 50 uploads and at
the end, as JSON: growth after warm-up is what a long-running worker would keep.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 500
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
        if n in (50, count):
            gc.collect()
            marks[n] = _rss_mb()
    growth = marks[count] - marks[50]
    print(json.dumps({"uploads": count, "rss_after_50_mb": marks[50],
                      "rss_end_mb": marks[count], "growth_mb": growth}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
