"""A cluster's history: who changed what, the impact each change had, compare and revert."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from .. import changes, queries, revisions
from ..permissions import Access, get_cluster
from .common import not_analysed_json, not_analysed_message, revision_of


@require_GET
@login_required
def revision_history(request: HttpRequest, pk: int) -> HttpResponse:
    """Who changed what, when, why, and the impact each revision stored when it was written
    (nothing is evaluated here)."""
    cluster, access = get_cluster(request.user, pk)
    rows = [{"revision": r, "impact": r.impact} for r in queries.history(cluster)]
    return render(
        request,
        "policies/history.html",
        {"cluster": cluster, "rows": rows, "can_edit": access >= Access.EDIT},
    )


@require_GET
@login_required
def revision_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two revisions side by side: policy YAML diffs and the connectivity diff.

    A revision whose analysis failed or is under way has no connectivity to compare (it is
    not evaluated in the request): the JSON answer is 409 as elsewhere, the page shows the
    policy diffs and says why the connectivity diff is missing."""
    cluster, _ = get_cluster(request.user, pk)
    head = revision_of(cluster, None)
    a = revision_of(cluster, request.GET.get("a") or max(head.number - 1, 1))
    b = revision_of(cluster, request.GET.get("b") or head.number)
    unanalysed = [r for r in (a, b) if not r.is_ready]
    if unanalysed and request.GET.get("format") == "json":
        return not_analysed_json(unanalysed[0])
    comparison = changes.compare_revisions(a, b, connectivity=not unanalysed)
    if request.GET.get("format") == "json":
        return JsonResponse({k: comparison[k] for k in ("policies", "connectivity", "summary")})
    notes = [not_analysed_message(r) for r in dict.fromkeys(unanalysed)]
    context = {
        "unanalysed": [f"{n[:1].upper()}{n[1:]}{'' if n.endswith('.') else '.'}" for n in notes],
        "cluster": cluster,
        "a": a,
        "b": b,
        "numbers": list(cluster.revisions.order_by("-number").values_list("number", flat=True)),
        **comparison,
    }
    return render(request, "policies/compare.html", context)


@require_POST
@login_required
def revision_revert(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """Make a new revision with the content of revision `number`."""
    cluster, _ = get_cluster(request.user, pk, Access.EDIT)
    target = revision_of(cluster, number)  # 404 for a revision that does not exist
    if target.status == target.Status.FAILED:
        # Its analysis failed: a copy of it would fail again (the history offers no button).
        messages.error(request, f"Revision {number} could not be analysed; it cannot be restored.")
        return redirect("policies:revision-history", cluster.pk)
    revisions.revert_to(cluster, request.user, number)
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(cluster.get_absolute_url())
    return redirect(cluster.get_absolute_url())
