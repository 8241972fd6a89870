"""URLs of the policies app: pages, then the JSON API (whose paths are a fixed contract)."""

from django.urls import path

from . import api, urls_editor, views, views_graph

app_name = "policies"

urlpatterns = [
    path("", views.cluster_list, name="cluster-list"),
    path("clusters/new/", views.cluster_new, name="cluster-new"),
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster-detail"),
    path("clusters/<int:pk>/upload/", views.cluster_upload, name="cluster-upload"),
    path(
        "clusters/<int:pk>/revisions/<int:number>/",
        views.revision_detail,
        name="revision-detail",
    ),
    path("clusters/<int:pk>/shares/", views.cluster_share, name="cluster-share"),
    path(
        "clusters/<int:pk>/shares/<int:share_pk>/delete/",
        views.share_delete,
        name="share-delete",
    ),
    # the connectivity graph of the latest revision, and of any revision
    path("clusters/<int:pk>/graph.json", views_graph.graph_json, name="cluster-graph"),
    path("clusters/<int:pk>/flows/", views_graph.flow_table, name="cluster-flows"),
    path("clusters/<int:pk>/matrix/", views_graph.flow_matrix, name="cluster-matrix"),
    path("clusters/<int:pk>/explain/", views_graph.flow_explain, name="cluster-explain"),
    path("clusters/<int:pk>/node/", views_graph.node_inspect, name="cluster-node"),
    path(
        "clusters/<int:pk>/revisions/<int:number>/graph.json",
        views_graph.graph_json,
        name="revision-graph",
    ),
    path(
        "clusters/<int:pk>/revisions/<int:number>/flows/",
        views_graph.flow_table,
        name="revision-flows",
    ),
    path(
        "clusters/<int:pk>/revisions/<int:number>/matrix/",
        views_graph.flow_matrix,
        name="revision-matrix",
    ),
    path(
        "clusters/<int:pk>/revisions/<int:number>/explain/",
        views_graph.flow_explain,
        name="revision-explain",
    ),
    path(
        "clusters/<int:pk>/revisions/<int:number>/node/",
        views_graph.node_inspect,
        name="revision-node",
    ),
    path("settings/tokens/", views.api_tokens, name="api-tokens"),
    path("settings/tokens/<int:pk>/delete/", views.api_token_delete, name="api-token-delete"),
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
]

urlpatterns += urls_editor.urlpatterns
