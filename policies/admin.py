"""Django admin for every model.

A revision and its rows are history: the admin shows them but never changes them (a change
is a new revision, made by an upload or an edit). Token hashes are never editable.
"""

from django.contrib import admin
from django.http import HttpRequest

from .models import (
    ApiToken,
    Cluster,
    ClusterShare,
    IdempotencyKey,
    Namespace,
    Policy,
    Revision,
    RevisionGraph,
    Workload,
)


class RevisionInline(admin.TabularInline):
    model = Revision
    fields = ("number", "author", "created", "message")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False


class ClusterShareInline(admin.TabularInline):
    model = ClusterShare
    raw_id_fields = ("user",)
    extra = 0


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created")
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
    inlines = (ClusterShareInline, RevisionInline)


class HistoryAdmin(admin.ModelAdmin):
    """Read-only: stored revisions are never rewritten."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Revision)
class RevisionAdmin(HistoryAdmin):
    list_display = ("cluster", "number", "author", "created", "message", "status")
    list_filter = ("status", "created")
    search_fields = ("cluster__name", "message", "author__username")
    raw_id_fields = ("cluster", "parent", "author")
    readonly_fields = ("created", "connectivity")


@admin.register(RevisionGraph)
class RevisionGraphAdmin(HistoryAdmin):
    """Derived data: may be deleted (it is rebuilt on the next view), never edited."""

    list_display = ("revision", "version")
    raw_id_fields = ("revision",)
    exclude = ("data",)  # megabytes of JSON: not for a form


@admin.register(Namespace)
class NamespaceAdmin(HistoryAdmin):
    list_display = ("name", "revision", "defined", "source_file", "line")
    list_filter = ("defined",)
    search_fields = ("name", "revision__cluster__name")
    raw_id_fields = ("revision",)


@admin.register(Workload)
class WorkloadAdmin(HistoryAdmin):
    list_display = ("name", "namespace", "kind", "revision", "replicas", "source_file", "line")
    list_filter = ("kind",)
    search_fields = ("name", "namespace", "revision__cluster__name")
    raw_id_fields = ("revision",)


@admin.register(Policy)
class PolicyAdmin(HistoryAdmin):
    list_display = ("name", "namespace", "kind", "revision", "source_file", "line")
    list_filter = ("kind",)
    search_fields = ("name", "namespace", "revision__cluster__name")
    raw_id_fields = ("revision",)


@admin.register(ClusterShare)
class ClusterShareAdmin(admin.ModelAdmin):
    list_display = ("cluster", "user", "role", "created")
    list_filter = ("role",)
    search_fields = ("cluster__name", "user__username")
    raw_id_fields = ("cluster", "user")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created", "last_used")
    search_fields = ("name", "user__username", "prefix")
    raw_id_fields = ("user",)
    readonly_fields = ("prefix", "token_hash", "created", "last_used")


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(HistoryAdmin):
    """Which upload a retried request's key answers with: may be deleted, never edited."""

    list_display = ("key", "user", "cluster", "revision", "created")
    search_fields = ("key", "user__username")
    raw_id_fields = ("user", "cluster", "revision")
