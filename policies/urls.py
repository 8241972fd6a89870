"""URLs of the policies app: pages, the editor's endpoints, then the JSON API (whose paths are a
fixed contract)."""

from django.urls import URLPattern, path

from .views import api, clusters, editor, graph, help, history

app_name = "policies"

# The graph's views serve the latest revision and any revision alike: each is routed under
# both prefixes, as `cluster-<name>` and `revision-<name>`.
REVISION_VIEWS = [
    ("", clusters.cluster_detail, "detail"),
    ("graph.json", graph.graph_json, "graph"),
    ("flows/", graph.flow_table, "flows"),
    ("matrix/", graph.flow_matrix, "matrix"),
    ("explain/", graph.flow_explain, "explain"),
    ("node/", graph.node_inspect, "node"),
    ("find.json", graph.find_json, "find"),
    ("rows/<str:table>/", clusters.cluster_rows, "rows"),
]


def _under_both_prefixes() -> list[URLPattern]:
    prefixes = (
        ("clusters/<int:pk>/", "cluster"),
        ("clusters/<int:pk>/revisions/<int:number>/", "revision"),
    )
    return [
        path(f"{prefix}{route}", view, name=f"{kind}-{name}")
        for prefix, kind in prefixes
        for route, view, name in REVISION_VIEWS
    ]


urlpatterns = [
    path("", clusters.cluster_list, name="cluster-list"),
    path("clusters/new/", clusters.cluster_new, name="cluster-new"),
    *_under_both_prefixes(),
    path(
        "clusters/<int:pk>/revisions/<int:number>/status",
        clusters.revision_status,
        name="revision-status",
    ),
    path("clusters/<int:pk>/upload/", clusters.cluster_upload, name="cluster-upload"),
    path("clusters/<int:pk>/shares/", clusters.cluster_share, name="cluster-share"),
    path(
        "clusters/<int:pk>/shares/<int:share_pk>/delete/",
        clusters.share_delete,
        name="share-delete",
    ),
    path("settings/tokens/", clusters.api_tokens, name="api-tokens"),
    path("settings/tokens/<int:pk>/delete/", clusters.api_token_delete, name="api-token-delete"),
    path("help/semantics/", help.semantics, name="semantics"),
    # the policy editor (JSON for static/js/editor.js) and export downloads
    *(
        path(f"clusters/<int:pk>/editor/{action}", view, name=f"editor-{action}")
        for action, view in (
            ("check", editor.editor_check),
            ("save", editor.editor_save),
            ("delete", editor.editor_delete),
            ("policy", editor.editor_policy),
            ("template", editor.editor_template),
            ("allow-flow", editor.editor_allow_flow),
        )
    ),
    path("clusters/<int:pk>/export.<str:fmt>", editor.export_download, name="export"),
    # history
    path("clusters/<int:pk>/history/", history.revision_history, name="revision-history"),
    path("clusters/<int:pk>/compare/", history.revision_compare, name="revision-compare"),
    path(
        "clusters/<int:pk>/revisions/<int:number>/revert/",
        history.revision_revert,
        name="revision-revert",
    ),
    # JSON API
    path("api/clusters/", api.clusters, name="api-clusters"),
    path("api/clusters/<int:pk>/connections", api.cluster_connections, name="api-connections"),
    path("api/clusters/<int:pk>/export.yaml", api.cluster_export, name="api-export"),
    path(
        "api/clusters/<int:pk>/policies/<str:namespace>/<str:name>",
        api.cluster_policy,
        name="api-policy",
    ),
    path("api/clusters/<int:pk>/preview", api.cluster_preview, name="api-preview"),
    path("api/clusters/<int:pk>/uploads", api.cluster_upload, name="api-upload"),
]
