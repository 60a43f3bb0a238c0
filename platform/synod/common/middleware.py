"""Middleware every request passes through.

- `WebRateLimitMiddleware`: a per-address rate limit on everything outside the API and static
  files: pages, htmx partials, the status panel and `/healthz`. The API has its own per-user
  limits (DRF).
- `ApplicationErrorMiddleware`: the pages' half of the one error model. A service's
  `ApplicationError` raised from a view answers its own status: JSON `{"detail", "code"}` for
  clients that read JSON, the error page for a person. (The API's half is
  `synod.common.api.exception_handler`.)
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from synod.common.errors import ApplicationError, RateLimited
from synod.common.throttles import client_address, seconds_until_allowed, throttled_response
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
        refusal = RateLimited(
            f"Too many requests from your address; try again in {retry_after} s.",
            retry_after_s=retry_after,
        )
        return error_response(request, refusal, title="Slow down", as_json=False)


class ApplicationErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, ApplicationError):
            return None  # a bug: Django's handler500 answers and logs it
        return error_response(request, exc, title="Not done", as_json=wants_json(request))


def error_response(
    request: HttpRequest, exc: ApplicationError, *, title: str, as_json: bool
) -> HttpResponse:
    """The answer to a refusal: its JSON body, or the error page, with its status and
    headers."""
    if as_json:
        response: HttpResponse = JsonResponse(exc.as_dict(), status=exc.status_code)
    else:
        context = {"title": title, "detail": exc.detail, "status": exc.status_code}
        response = render(request, "common/error.html", context, status=exc.status_code)
    for name, value in exc.headers().items():
        response[name] = value
    return response
