"""Security headers Django does not set itself: a Content-Security-Policy without inline
script or style, which also forbids framing (frame-ancestors)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = _policy(settings.SYNOD_CSP)
        # Swagger UI styles its widgets with style attributes; its scripts stay same-origin.
        self.relaxed_policy = _policy({**settings.SYNOD_CSP, **settings.SYNOD_CSP_API_DOCS})
        self.relaxed_prefixes = tuple(settings.SYNOD_CSP_API_DOCS_PATHS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            relaxed = request.path.startswith(self.relaxed_prefixes)
            response["Content-Security-Policy"] = self.relaxed_policy if relaxed else self.policy
        return response
