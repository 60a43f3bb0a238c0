"""The one application error model.

Services raise an `ApplicationError` subclass when they refuse a request for a reason the
person can act on. Each domain has its own base (`RegistryError`, `GovernanceError`,
`ChainError`, `AccountError`, ...) subclassing this one, and each refusal is a class that
says its HTTP status and a stable machine-readable `code`. Views and APIs do not catch these
to pick a status: two handlers map them to HTTP in one place,

- `synod.common.api.exception_handler` for the DRF API, and
- `synod.common.middleware.ApplicationErrorMiddleware` for pages and the JSON endpoints the
  pages' scripts call,

both answering JSON as `{"detail": "<one readable sentence>", "code": "<code>"}` (plus
`"errors": {field: [message]}` when the refusal is about one field of a form).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ApplicationError(Exception):
    """A refusal meant for the person who asked: `detail` is one readable sentence."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # The form field the refusal is about, when there is one (a page highlights it).
        self.field = field

    def headers(self) -> dict[str, str]:
        """Extra response headers (for example Retry-After)."""
        return {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail, "code": self.code}
        if self.field:
            body["errors"] = {self.field: [self.detail]}
        return body


class InvalidInput(ApplicationError):
    status_code = 400
    code = "invalid"


class NotAllowed(ApplicationError):
    status_code = 403
    code = "permission_denied"


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"


class Conflict(ApplicationError):
    """The request is well formed but the state of things refuses it now."""

    status_code = 409
    code = "conflict"


class TooLarge(ApplicationError):
    status_code = 413
    code = "too_large"


class RateLimited(ApplicationError):
    status_code = 429
    code = "throttled"

    def __init__(self, detail: str, *, retry_after_s: int, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Unavailable(ApplicationError):
    """Something the request needs (the chain, the broker) does not answer right now."""

    status_code = 503
    code = "unavailable"
