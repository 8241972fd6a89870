"""The cluster list, uploads, the cluster page itself, sharing and API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from .. import queries, tokens, uploads
from ..forms import ApiTokenForm, ShareForm, UploadForm
from ..models import ApiToken, Cluster, ClusterShare, Revision
from ..permissions import Access, get_cluster
from ..revisions import settled_head
from .common import (
    HtmxHttpRequest,
    cluster_page_context,
    cluster_revision,
    render_panel,
    revision_of,
)


@require_GET
@login_required
def cluster_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every cluster the user owns or that is shared with them."""
    summaries = queries.cluster_summaries(request.user)
    return render(request, "policies/cluster_list.html", {"summaries": summaries})


def _upload_form(request: HtmxHttpRequest, cluster: Cluster | None) -> UploadForm:
    """The bound upload form, or an unbound one carrying the error when the body is too big."""
    if too_big := uploads.content_length_error(request.META.get("CONTENT_LENGTH")):
        # Refused on its declared length: none of its files is unpacked or parsed.
        form = UploadForm(owner=request.user, cluster=cluster)
        form.add_located_error(too_big)
        return form
    return UploadForm(request.POST, request.FILES, owner=request.user, cluster=cluster)


def _upload_failed(
    request: HtmxHttpRequest, form: UploadForm, cluster: Cluster | None
) -> HttpResponse:
    context = {"form": form, "cluster": cluster}
    if request.htmx:
        # 200 so that htmx swaps the form with its errors in place of the one submitted.
        return render(request, "policies/upload.html#upload-form", context)
    return render(request, "policies/upload.html", context, status=422)


def _landed(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _counted(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _summary_message(request: HttpRequest, revision: Revision) -> None:
    counts = queries.revision_counts(revision)
    parts = [
        _counted(counts["namespaces"], "namespace", "namespaces"),
        _counted(counts["workloads"], "workload", "workloads"),
        _counted(counts["policies"], "policy", "policies"),
        _counted(len(revision.warnings), "warning", "warnings"),
    ]
    later = "; it is being analysed" if revision.is_analysing else ""
    messages.success(request, f"Revision {revision.number}: {', '.join(parts)}{later}.")


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def cluster_new(request: HtmxHttpRequest) -> HttpResponse:
    """Upload manifests as a new cluster."""
    if request.method == "GET":
        form = UploadForm(owner=request.user)
        return render(request, "policies/upload.html", {"form": form, "cluster": None})
    form = _upload_form(request, None)
    if not form.is_bound or not form.is_valid():
        return _upload_failed(request, form, None)
    cluster = form.save()
    # The revision the form stored, not the cluster's head: a worker may already have
    # failed it, and the upload itself succeeded all the same.
    _summary_message(request, form.revision)
    return _landed(request, cluster.get_absolute_url())


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def cluster_upload(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Replace an existing cluster's manifests with an upload, as a new revision."""
    cluster, _ = get_cluster(request.user, pk, Access.EDIT)
    if request.method == "GET":
        form = UploadForm(owner=request.user, cluster=cluster)
        return render(request, "policies/upload.html", {"form": form, "cluster": cluster})
    form = _upload_form(request, cluster)
    if not form.is_bound or not form.is_valid():
        return _upload_failed(request, form, cluster)
    form.save()
    _summary_message(request, form.revision)
    return _landed(request, cluster.get_absolute_url())


def _cluster_page(
    request: HtmxHttpRequest, cluster: Cluster, access: Access, revision: Revision | None
) -> HttpResponse:
    context = cluster_page_context(request, cluster, access, revision)
    if request.htmx.target == "policy-index":
        # The editor refreshes its policy list after a save; the same partial also swaps the
        # revision line, the counts and the history out of band.
        return render(request, "policies/cluster.html#editor-refresh", context)
    return render(request, "policies/cluster.html", context)


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def cluster_detail(request: HtmxHttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    """A revision of a cluster as it was (by default the latest, which a cluster whose first
    upload has not landed lacks): namespaces, workloads, policies, warnings, graph, editor."""
    cluster, access = get_cluster(request.user, pk)
    revision = settled_head(cluster) if number is None else revision_of(cluster, number)
    return _cluster_page(request, cluster, access, revision)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def cluster_rows(
    request: HtmxHttpRequest, pk: int, table: str, number: int | None = None
) -> HttpResponse:
    """A page of one of the cluster page's tables (workloads, policies, warnings), or the
    policies of one namespace in the editor's index."""
    cluster, access, revision = cluster_revision(request, pk, number)
    if table == "policy-names":  # one namespace of the editor's index, opened
        names = queries.policy_index(revision, request.GET.get("namespace", ""))
        return render_panel(request, "policy-names", cluster, access, revision, names)
    if table not in queries.TABLES:
        raise Http404("No such table")
    context = {
        f"{table[:-1]}_page": queries.table_page(revision, table, request.GET.get("page")),
    }
    return render_panel(request, f"{table[:-1]}-table", cluster, access, revision, context)


def revision_status(request: HtmxHttpRequest, pk: int, number: int) -> HttpResponse:
    """Where a revision's analysis stands: the progress partial the cluster page polls, until
    the analysis ends and the page reloads (into the graph, or the failure and its error)."""
    cluster, access = get_cluster(request.user, pk)
    revision = revision_of(cluster, number)
    if request.htmx and not revision.is_analysing:
        return HttpResponseClientRefresh()
    return render_panel(request, "analysis-status", cluster, access, revision, {})


def _share_panel(
    request: HtmxHttpRequest, cluster: Cluster, form: ShareForm, notice: str = ""
) -> HttpResponse:
    context = {
        "cluster": cluster,
        "share_form": form,
        "shares": cluster.shares.select_related("user"),
        "is_owner": True,
        "share_notice": notice,
    }
    return render(request, "policies/cluster.html#share-panel", context)


@require_POST
@login_required
@vary_on_headers("HX-Request")
def cluster_share(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Share the cluster with a user as viewer or editor (owner only)."""
    cluster, _ = get_cluster(request.user, pk, Access.OWN)
    form = ShareForm(request.POST, cluster=cluster)
    notice = ""
    if form.is_valid():
        share = form.save()
        notice = f"{share.user} now has {share.role} access to {cluster}."
        form = ShareForm(cluster=cluster)
    if request.htmx:
        return _share_panel(request, cluster, form, notice)
    if notice:
        messages.success(request, notice)
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect(cluster)


@require_POST
@login_required
@vary_on_headers("HX-Request")
def share_delete(request: HtmxHttpRequest, pk: int, share_pk: int) -> HttpResponse:
    """Take a user's access away (owner only)."""
    cluster, _ = get_cluster(request.user, pk, Access.OWN)
    share = get_object_or_404(ClusterShare, pk=share_pk, cluster=cluster)
    share.delete()
    notice = f"{share.user} no longer has access to {cluster}."
    if request.htmx:
        return _share_panel(request, cluster, ShareForm(cluster=cluster), notice)
    messages.success(request, notice)
    return redirect(cluster)


@require_http_methods(["GET", "POST"])
@login_required
def api_tokens(request: HtmxHttpRequest) -> HttpResponse:
    """The user's API tokens; a new token is shown once, on the page that created it."""
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = tokens.create_token(request.user, form.cleaned_data["name"])
        form = ApiTokenForm()
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": request.user.api_tokens.all(),
    }
    return render(request, "policies/tokens.html", context)


@require_POST
@login_required
def api_token_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's tokens."""
    token = ApiToken.objects.filter(pk=pk, user=request.user).first()
    if token is None:
        raise Http404("No such token")
    token.delete()
    messages.success(request, f"Token {token.name!r} revoked.")
    return redirect("policies:api-tokens")
