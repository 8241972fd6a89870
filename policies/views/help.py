"""Help pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
@login_required
def semantics(request: HttpRequest) -> HttpResponse:
    """The NetworkPolicy rules the engine implements, in plain words."""
    return render(request, "policies/semantics.html")
