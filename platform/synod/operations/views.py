"""The status page, its live panel, and `/healthz`."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from synod.operations.health import platform_status


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "operations/home.html", {"status": platform_status()})


@require_GET
@never_cache
def status_partial(request: HttpRequest) -> HttpResponse:
    """The live status panel; htmx swaps it in every few seconds."""
    return render(request, "operations/_status.html", {"status": platform_status()})


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    status = platform_status()
    return JsonResponse(status.as_dict(), status=200 if status.healthy else 503)
