"""A per-address rate limit on everything outside the API and static files: pages, htmx
partials, the status panel and `/healthz`. The API has its own per-user limits (DRF)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from synod.accounts.throttles import client_address, seconds_until_allowed, throttled_response
from synod.common.views import wants_json

SCOPE = "web"
EXEMPT_PREFIXES = ("/static/", "/api/", "/v1/")


class WebRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        retry_after = seconds_until_allowed(SCOPE, client_address(request))
        if retry_after is None:
            return self.get_response(request)
        if wants_json(request) or request.headers.get("HX-Request"):
            return throttled_response(retry_after)
        response = render(
            request,
            "common/error.html",
            {
                "title": "Slow down",
                "detail": f"Too many requests from your address; try again in {retry_after} s.",
                "status": 429,
            },
            status=429,
        )
        response["Retry-After"] = str(retry_after)
        return response
