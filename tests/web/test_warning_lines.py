"""Warnings are matched to the policy they are in by location, and to the line of that
policy's stored text (which keeps the comments above it), for the warnings panel's links."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import queries, revisions, snapshots

MANIFEST = (Path(__file__).parents[1] / "data" / "web" / "warning-lines.yaml").read_text()

pytestmark = pytest.mark.django_db

# The same file with a Deployment after the last policy: a warning there is in no policy.
TRAILER = """\
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: shop
spec:
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers: [{name: worker, image: worker}]
"""


@pytest.fixture
def shop(owner):
    text = MANIFEST + TRAILER
    snapshot = snapshots.parse_manifests([("shop.yaml", text.encode())])
    return revisions.create_cluster(owner, "shop", snapshot).head, text.splitlines()


def test_each_warning_names_its_policy_and_the_line_of_its_text(shop):
    revision, lines = shop
    found = queries.warnings_in_policies(revision, revision.warnings)
    assert {w["policy"] for w in found} == {"shop/api-in", "shop/Allow_All"}
    for w in found:
        namespace, name = w["policy"].split("/")
        text = revision.policies.get(namespace=namespace, name=name).yaml.splitlines()
        assert text[w["policy_line"] - 1] == lines[w["line"] - 1]


def test_a_location_outside_every_policy_names_none(shop):
    revision, lines = shop
    worker = lines.index("  name: worker") + 1  # after the last policy, in the Deployment
    api = lines.index("  name: api") + 1  # before the first policy
    made_up = [
        {"severity": "warning", "file": "shop.yaml", "line": line, "message": "m"}
        for line in (worker, api)
    ]
    other_file = {"severity": "warning", "file": "other.yaml", "line": 25, "message": "m"}
    unlocated = {"severity": "warning", "file": "", "line": 0, "message": "m"}
    found = queries.warnings_in_policies(revision, [*made_up, other_file, unlocated])
    assert [w.get("policy") for w in found] == [None, None, None, None]


def test_the_cluster_pages_warning_links_carry_the_line(client, owner, shop):
    revision, _ = shop
    client.force_login(owner)
    html = client.get(revision.cluster.get_absolute_url()).content.decode()
    for w in queries.warnings_in_policies(revision, revision.warnings):
        assert f'data-line="{w["policy_line"]}"' in html
