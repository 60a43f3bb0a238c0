"""API authentication: `Authorization: Bearer <api key>`."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from synod.accounts import selectors, services
from synod.accounts.models import User, UserAPIKey
from synod.common import throttles


class BearerAPIKeyAuthentication(BaseAuthentication):
    """No header: not authenticated (401 with WWW-Authenticate, from the permission check).
    A key that is unknown, revoked or expired: 403, with the reason.

    Every refused key counts against the client address (throttles.AUTH_FAILURE_SCOPE); over
    that limit the answer is 429, and the key is not even looked at until the window ends.
    """

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[User, UserAPIKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        throttles.refuse_while_failing_authentication(request)
        try:
            api_key = self._usable_key(parts)
        except exceptions.PermissionDenied:
            throttles.count_failed_authentication(request)
            raise
        services.record_api_key_use(api_key)
        return api_key.user, api_key

    def _usable_key(self, parts: list[bytes]) -> UserAPIKey:
        if len(parts) != 2:
            raise exceptions.PermissionDenied("Send exactly `Authorization: Bearer <api key>`.")
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.PermissionDenied("Invalid API key.") from None
        api_key = selectors.api_key_for_secret(secret)
        if api_key is None:
            raise exceptions.PermissionDenied("Invalid API key.")
        if api_key.revoked:
            raise exceptions.PermissionDenied("This API key has been revoked.")
        if api_key.has_expired:
            raise exceptions.PermissionDenied("This API key has expired.")
        if not api_key.user.is_active:
            raise exceptions.PermissionDenied("This account is disabled.")
        return api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class IsAuthenticatedCountingFailures(IsAuthenticated):
    """IsAuthenticated, where a request without credentials counts as a failed
    authentication of its client address: a flood of 401s ends in 429s too."""

    def has_permission(self, request: Request, view) -> bool:
        if super().has_permission(request, view):
            return True
        throttles.count_failed_authentication(request)
        return False


class BearerAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "synod.accounts.authentication.BearerAPIKeyAuthentication"
    name = "BearerApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key created in the dashboard: `Authorization: Bearer <key>`.",
        }
