"""Every URL name and path is a contract (scripts, bookmarks and checks outside the repo)."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse

ROUTES = [
    ("cluster-list", {}, "/"),
    ("cluster-new", {}, "/clusters/new/"),
    ("cluster-detail", {"pk": 3}, "/clusters/3/"),
    ("cluster-upload", {"pk": 3}, "/clusters/3/upload/"),
    ("revision-detail", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/"),
    ("cluster-share", {"pk": 3}, "/clusters/3/shares/"),
    ("share-delete", {"pk": 3, "share_pk": 4}, "/clusters/3/shares/4/delete/"),
    ("cluster-graph", {"pk": 3}, "/clusters/3/graph.json"),
    ("cluster-flows", {"pk": 3}, "/clusters/3/flows/"),
    ("cluster-matrix", {"pk": 3}, "/clusters/3/matrix/"),
    ("cluster-explain", {"pk": 3}, "/clusters/3/explain/"),
    ("cluster-node", {"pk": 3}, "/clusters/3/node/"),
    ("revision-graph", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/graph.json"),
    ("revision-flows", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/flows/"),
    ("revision-matrix", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/matrix/"),
    ("revision-explain", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/explain/"),
    ("revision-node", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/node/"),
    ("cluster-find", {"pk": 3}, "/clusters/3/find.json"),
    ("revision-find", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/find.json"),
    ("api-tokens", {}, "/settings/tokens/"),
    ("api-token-delete", {"pk": 5}, "/settings/tokens/5/delete/"),
    ("semantics", {}, "/help/semantics/"),
    ("editor-check", {"pk": 3}, "/clusters/3/editor/check"),
    ("editor-save", {"pk": 3}, "/clusters/3/editor/save"),
    ("editor-delete", {"pk": 3}, "/clusters/3/editor/delete"),
    ("editor-policy", {"pk": 3}, "/clusters/3/editor/policy"),
    ("editor-template", {"pk": 3}, "/clusters/3/editor/template"),
    ("editor-allow-flow", {"pk": 3}, "/clusters/3/editor/allow-flow"),
    ("export", {"pk": 3, "fmt": "zip"}, "/clusters/3/export.zip"),
    ("revision-history", {"pk": 3}, "/clusters/3/history/"),
    ("revision-compare", {"pk": 3}, "/clusters/3/compare/"),
    ("revision-revert", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/revert/"),
    ("revision-status", {"pk": 3, "number": 2}, "/clusters/3/revisions/2/status"),
    ("api-clusters", {}, "/api/clusters/"),
    ("api-connections", {"pk": 3}, "/api/clusters/3/connections"),
    ("api-export", {"pk": 3}, "/api/clusters/3/export.yaml"),
    ("api-policy", {"pk": 3, "namespace": "ns", "name": "p"}, "/api/clusters/3/policies/ns/p"),
    ("api-preview", {"pk": 3}, "/api/clusters/3/preview"),
]


@pytest.mark.parametrize(("name", "kwargs", "url"), ROUTES)
def test_each_url_name_keeps_its_path(name, kwargs, url):
    assert reverse(f"policies:{name}", kwargs=kwargs) == url
    assert resolve(url).url_name == name
