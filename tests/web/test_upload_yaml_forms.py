"""Uploads in the YAML forms kubectl accepts: documents that start on their `---` line and
YAML 1.1 merge keys with written keys over them (LF and CRLF files). Each stored policy's text
loads again to the same policy, and the stored revision, read back cold, gives what the CLI
gives for the same file."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.asserts import assertRedirects

from policies import analysis
from policies.engine import evaluate, load_documents
from policies.engine.cli import load_inputs
from policies.models import Cluster
from tests.meaning import bare

pytestmark = pytest.mark.django_db

SHOP = """\
# The shop, written the ways kubectl accepts.
--- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: &web {app: web, team: shop}}
spec:
  selector: {matchLabels: *web}
  template:
    metadata: {labels: {<<: *web, version: v1}}
    spec: {containers: [{name: c, image: web, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: List
items:
- &api
  apiVersion: apps/v1
  kind: Deployment
  metadata: {name: api, namespace: shop, labels: {app: api}}
  spec: &spec
    replicas: 1
    selector: {matchLabels: {app: api}}
    template:
      metadata: {labels: &api-pods {app: api, team: shop}}
      spec: {containers: [{name: c, image: api, ports: [{containerPort: 9090}]}]}
- <<: *api
  metadata: {name: db, namespace: shop, labels: {app: db}}
  spec:
    <<: *spec
    replicas: 3
    selector: {matchLabels: {app: db}}
    template:
      metadata: {labels: {<<: *api-pods, app: db}}
      spec: {containers: [{name: c, image: db, ports: [{containerPort: 5432}]}]}
# Every pod of the shop takes no connection...
--- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,
     metadata: {name: default-deny, namespace: shop},
     spec: {podSelector: {}, policyTypes: [Ingress]}}
# ...but the database takes the api's.
--- &db-from-api
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: shop}
spec:
  podSelector: {matchLabels: &db {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {<<: *db, app: api}}}]
    ports: [{port: 5432}]
"""


def flows_of(snapshot) -> set[tuple[str, str, str]]:
    return {(f.src.id, f.dst.id, str(f.ports)) for f in evaluate(snapshot).flows()}


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_marker_line_documents_and_merge_overrides_are_stored_as_the_cli_reads_them(
    client_for, owner, tmp_path: Path, newline: str
) -> None:
    data = SHOP.replace("\n", newline).encode()
    path = tmp_path / "shop.yaml"
    path.write_bytes(data)
    cli = load_inputs([str(path)])
    cli_policies = {p.id: p for p in cli.policies}
    assert set(cli_policies) == {"shop/default-deny", "shop/db-from-api"}

    browser = client_for(owner)
    response = browser.post(
        "/clusters/new/", {"name": "shop", "files": [SimpleUploadedFile("shop.yaml", data)]}
    )
    cluster = Cluster.objects.get(name="shop")
    assertRedirects(response, cluster.get_absolute_url())
    head = cluster.head

    # each stored text is its own policy, as written (the `---` of the deny policy's line
    # left out), and loads again to the policy the CLI read
    rows = {f"{row.namespace}/{row.name}": row for row in head.policies.all()}
    assert set(rows) == set(cli_policies)
    deny = rows["shop/default-deny"].yaml
    assert deny.startswith("{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,")
    assert "name: db-from-api" not in deny
    for policy_id, row in rows.items():
        (again,) = load_documents([("stored.yaml", row.yaml)]).policies
        assert bare(again) == bare(cli_policies[policy_id])

    # the merge overrides made three workloads, the db's replicas and labels its own
    db = head.workloads.get(name="db")
    assert (db.replicas, db.labels) == (3, {"app": "db", "team": "shop"})

    # read back cold from its rows, the revision gives the CLI's connectivity
    analysis.clear()
    cold = analysis.state(Cluster.objects.get(pk=cluster.pk).head).snapshot
    web = flows_of(cold)
    assert web == flows_of(cli)
    # and locates each policy at the line the CLI does
    assert {p.id: p.location.line for p in cold.policies} == {
        p.id: p.location.line for p in cli.policies
    }
    assert ("shop/api[Deployment]", "shop/db[Deployment]", "TCP 5432") in web
    assert not {(s, d) for s, d, _ in web if d.startswith("shop/") and s.startswith("shop/")} - {
        ("shop/api[Deployment]", "shop/db[Deployment]")
    }
