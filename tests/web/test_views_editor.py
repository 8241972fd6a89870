"""Editor endpoints, export downloads, history, compare and revert: HTTP and permissions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from policies import analysis, changes
from policies.engine.connectivity import Connectivity

from .test_changes import OPEN_BACKEND

pytestmark = pytest.mark.django_db


def _url(name: str, cluster, **kw) -> str:
    return reverse(f"policies:{name}", kwargs={"pk": cluster.pk, **kw})


def test_check_returns_diagnostics_and_impact(client_for, users_by_role, shop_cluster) -> None:
    client = client_for(users_by_role["viewer"])  # checking saves nothing: viewers may
    body = client.post(
        _url("editor-check", shop_cluster),
        {"yaml": OPEN_BACKEND, "original": "shop/backend-from-frontend"},
    ).json()
    assert body["valid"]
    assert body["summary"] == "+0 -0 ~1"
    bad = client.post(_url("editor-check", shop_cluster), {"yaml": "kind: [\n"}).json()
    assert not bad["valid"]
    assert bad["diagnostics"][0]["line"] == 2


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 200), ("editor", 200), ("viewer", 403), ("stranger", 404)]
)
def test_save_permissions(client_for, users_by_role, shop_cluster, role, status) -> None:
    response = client_for(users_by_role[role]).post(
        _url("editor-save", shop_cluster),
        {
            "yaml": OPEN_BACKEND,
            "original": "shop/backend-from-frontend",
            "base_revision": "1",
            "message": "m",
        },
    )
    assert response.status_code == status


def test_save_conflict_is_409_with_the_other_change(
    client_for, users_by_role, shop_cluster
) -> None:
    data = {"yaml": OPEN_BACKEND, "original": "shop/backend-from-frontend", "base_revision": "1"}
    assert (
        client_for(users_by_role["owner"]).post(_url("editor-save", shop_cluster), data).status_code
        == 200
    )
    second = client_for(users_by_role["editor"]).post(
        _url("editor-save", shop_cluster), {**data, "yaml": OPEN_BACKEND + "# mine\n"}
    )
    assert second.status_code == 409
    assert second.json()["conflict"]["policy"] == "shop/backend-from-frontend"


def test_invalid_save_is_400_and_stores_nothing(client_for, users_by_role, shop_cluster) -> None:
    response = client_for(users_by_role["owner"]).post(
        _url("editor-save", shop_cluster), {"yaml": "a: [\n", "base_revision": "1"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 2
    assert shop_cluster.revisions.count() == 1


def test_delete_needs_confirmation(client_for, users_by_role, shop_cluster) -> None:
    client = client_for(users_by_role["owner"])
    preview = client.post(
        _url("editor-delete", shop_cluster), {"policy": "shop/backend-from-frontend"}
    ).json()
    assert preview["summary"] == "+0 -1 ~0"
    done = client.post(
        _url("editor-delete", shop_cluster),
        {"policy": "shop/backend-from-frontend", "confirm": "yes", "base_revision": "1"},
    )
    assert done.json()["revision"] == 2


def test_export_downloads(client_for, users_by_role, shop_cluster) -> None:
    client = client_for(users_by_role["viewer"])
    one = client.get(_url("export", shop_cluster, fmt="yaml") + "?policy=shop/default-deny")
    assert one["Content-Disposition"] == 'attachment; filename="shop-default-deny.yaml"'
    assert b"name: default-deny" in one.content
    everything = client.get(_url("export", shop_cluster, fmt="yaml"))
    assert everything.content.count(b"kind: NetworkPolicy") == 3
    archive = client.get(_url("export", shop_cluster, fmt="zip"))
    assert archive["Content-Type"] == "application/zip"
    assert (
        client_for(users_by_role["stranger"])
        .get(_url("export", shop_cluster, fmt="yaml"))
        .status_code
        == 404
    )


def test_history_compare_and_revert(client_for, users_by_role, shop_cluster) -> None:
    client = client_for(users_by_role["editor"])
    client.post(
        _url("editor-save", shop_cluster),
        {"yaml": OPEN_BACKEND, "original": "shop/backend-from-frontend", "base_revision": "1"},
    )
    history = client.get(_url("revision-history", shop_cluster)).content.decode()
    assert "+0 -0 ~1" in history
    assert 'data-revision="2"' in history
    compare = client.get(_url("revision-compare", shop_cluster) + "?a=1&b=2").content.decode()
    assert "shop/backend-from-frontend" in compare
    assert "All Connections" in compare
    response = client.post(_url("revision-revert", shop_cluster, number=1))
    assert response.status_code == 302
    assert shop_cluster.revisions.count() == 3
    assert (
        client_for(users_by_role["viewer"])
        .post(_url("revision-revert", shop_cluster, number=1))
        .status_code
        == 403
    )


def test_templates_and_allow_flow(client_for, users_by_role, shop_cluster) -> None:
    client = client_for(users_by_role["viewer"])
    template = client.get(
        _url("editor-template", shop_cluster) + "?template=allow-dns&namespace=shop"
    ).json()
    assert "namespace: shop" in template["yaml"]
    assert client.get(_url("editor-template", shop_cluster) + "?template=nope").status_code == 400
    flow = client.get(
        _url("editor-allow-flow", shop_cluster)
        + "?src=shop/backend&dst=shop/frontend&conn=tcp-8080"
    ).json()
    assert flow["summary"] == "+1 -0 ~0"


def test_semantics_page_explains_the_rules(client_for, owner) -> None:
    page = client_for(owner).get(reverse("policies:semantics")).content.decode()
    for rule in ("isolated for ingress", "both sides", "named port", "endPort", "DoesNotExist"):
        assert rule in page


def test_the_history_page_evaluates_nothing(client_for, owner, shop_cluster, monkeypatch) -> None:
    # 30 revisions, each with the impact it stored when written; then the page reads them
    # with the engine's evaluation and parsing made to fail.
    for n in range(30):
        text = OPEN_BACKEND.replace(
            "podSelector: {}", f"podSelector: {{matchLabels: {{n: '{n}'}}}}"
        )
        changes.apply_edit(shop_cluster, owner, text, original=("shop", "backend-from-frontend"))
    analysis.clear()
    calls = []

    def refuse(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"the history page called {name}")

        return call

    monkeypatch.setattr(Connectivity, "__init__", refuse("evaluate"))
    monkeypatch.setattr("policies.engine.manifests.load_documents", refuse("load_documents"))
    monkeypatch.setattr("policies.engine.load_documents", refuse("load_documents"))
    page = client_for(owner).get(_url("revision-history", shop_cluster))
    assert page.status_code == 200
    assert calls == []
    text = page.content.decode()
    assert text.count('data-testid="revision-row"') == 31
    assert "not computed yet" not in text
    impacts = [r.impact["summary"] for r in shop_cluster.revisions.exclude(number=1)]
    assert len(impacts) == 30
    assert all(f">{summary}</span>" in text for summary in impacts)


def test_semantics_page_explains_the_cluster_wide_tiers(client_for, owner) -> None:
    page = client_for(owner).get(reverse("policies:semantics")).content.decode()
    for rule in (
        "Admin tier &rarr; NetworkPolicy &rarr; Baseline tier",
        "external addresses",
        "undecidable",
        "fail closed",
        "by name",
    ):
        assert rule in page
