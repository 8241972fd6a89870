"""URLs of the policy editor, export downloads and revision history (namespace `policies:`)."""

from django.urls import path

from . import views_editor as v

urlpatterns = [
    path("help/semantics/", v.semantics, name="semantics"),
    path("clusters/<int:pk>/editor/check", v.editor_check, name="editor-check"),
    path("clusters/<int:pk>/editor/save", v.editor_save, name="editor-save"),
    path("clusters/<int:pk>/editor/delete", v.editor_delete, name="editor-delete"),
    path("clusters/<int:pk>/editor/policy", v.editor_policy, name="editor-policy"),
    path("clusters/<int:pk>/editor/template", v.editor_template, name="editor-template"),
    path("clusters/<int:pk>/editor/allow-flow", v.editor_allow_flow, name="editor-allow-flow"),
    path("clusters/<int:pk>/export.<str:fmt>", v.export_download, name="export"),
    path("clusters/<int:pk>/history/", v.revision_history, name="revision-history"),
    path("clusters/<int:pk>/compare/", v.revision_compare, name="revision-compare"),
    path(
        "clusters/<int:pk>/revisions/<int:number>/revert/",
        v.revision_revert,
        name="revision-revert",
    ),
]
