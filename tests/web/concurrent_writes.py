"""Concurrent writers against a file-backed SQLite database, in real threads.

Run by test_concurrency.py in a process of its own (`python tests/web/concurrent_writes.py
DB_PATH ROUNDS`), since the test database of the suite lives in memory and behaves otherwise.
Prints a JSON object: the status codes each scenario gave, round by round.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "web"

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: shop}}
spec:
  podSelector: {{}}
  ingress: [{{ports: [{{port: {port}}}]}}]
"""


def main(db_path: str, rounds: int) -> dict[str, list[list[int]]]:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netviz.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from policies import revisions, snapshots

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("writer", password="unused-password-0")
    files = [(n, (DATA / n).read_bytes()) for n in ("shop.yaml", "shop-policies.yaml")]
    cluster = revisions.create_cluster(user, "shop", snapshots.parse_manifests(files))
    connection.close()

    def together(*requests) -> list[int]:
        """Run each request in its own thread, all released at once; their status codes."""
        barrier = threading.Barrier(len(requests))
        statuses = [0] * len(requests)

        def run(i: int, request) -> None:
            client = Client()
            client.force_login(user)
            barrier.wait()
            try:
                statuses[i] = request(client).status_code
            except Exception:  # a server error the client re-raised
                statuses[i] = 599
            finally:
                from django.db import connection as own

                own.close()

        threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sorted(statuses)

    def save(name: str, port: int, base: int):
        text = POLICY.format(name=name, port=port)
        url = f"/clusters/{cluster.pk}/editor/save"
        return lambda c: c.post(url, {"yaml": text, "base_revision": str(base)})

    def upload(port: int):
        content = POLICY.format(name="uploaded", port=port).encode()
        url = f"/clusters/{cluster.pk}/upload/"
        # Replacing what the others saved meanwhile: confirmed, as the form's second submit.
        return lambda c: c.post(
            url,
            {
                "files": [SimpleUploadedFile("up.yaml", content), *_shop(files)],
                "confirm_drops": "on",
            },
        )

    results: dict[str, list[list[int]]] = {"same": [], "different": [], "uploads": []}
    for r in range(rounds):
        head = cluster.head.number
        results["same"].append(together(save("same", 1000 + r, head), save("same", 2000 + r, head)))
        head = cluster.head.number
        results["different"].append(
            together(save(f"a{r}", 3000 + r, head), save(f"b{r}", 4000 + r, head))
        )
        results["uploads"].append(together(*(upload(5000 + r * 10 + i) for i in range(3))))
    return results


def _shop(files):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return [SimpleUploadedFile(n, c) for n, c in files]


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
