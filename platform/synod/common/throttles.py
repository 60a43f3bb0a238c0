"""Rate limits on a cache shared by every process (see CACHES).

- Sign-in endpoints: per client address (`throttle(scope)` on plain Django views).
- The API ("api"): per user, all of their keys together, when the request is
  authenticated; per client address otherwise.
- Failed API authentication ("api-auth-failure", stricter): per client address. A key that is
  unknown, malformed, revoked or expired, or no key where one is needed, counts one failure.
  Over the limit, every request from that address that presents a key is answered 429 before
  the key is even looked at, so guessing keys stays slow whatever the guesses are.

A fixed window per scope and client: cheap, and good enough to stop floods of nonces, key
guesses and signature checks. Rates come from settings.SYNOD_THROTTLE_RATES, e.g. "30/minute".
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

PERIODS_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
API_SCOPE = "api"
AUTH_FAILURE_SCOPE = "api-auth-failure"


@dataclass(frozen=True)
class Rate:
    count: int
    period_s: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        count, _, period = text.partition("/")
        return cls(int(count), PERIODS_S[period.strip().rstrip("s")])


def rate_for(scope: str) -> Rate:
    return Rate.parse(settings.SYNOD_THROTTLE_RATES[scope])


def client_address(request: HttpRequest) -> str:
    # DRF's rule: trusts X-Forwarded-For for exactly NUM_PROXIES hops (0 by default).
    return BaseThrottle().get_ident(request)


@dataclass(frozen=True)
class _Window:
    key: str
    rate: Rate
    seconds_left: int


def _current_window(scope: str, ident: str, now: float | None) -> _Window:
    rate = rate_for(scope)
    now = time.time() if now is None else now
    window = int(now // rate.period_s)
    return _Window(
        key=f"throttle:{scope}:{ident}:{window}",
        rate=rate,
        seconds_left=max(1, math.ceil((window + 1) * rate.period_s - now)),
    )


def seconds_until_allowed(scope: str, ident: str, *, now: float | None = None) -> int | None:
    """Counts one request; returns None when allowed, else the seconds until the window ends."""
    window = _current_window(scope, ident, now)
    timeout = window.rate.period_s + 1
    if cache.add(window.key, 1, timeout=timeout):
        count = 1
    else:
        try:
            count = cache.incr(window.key)
        except ValueError:  # the window expired between add and incr
            cache.set(window.key, 1, timeout=timeout)
            count = 1
    return None if count <= window.rate.count else window.seconds_left


def seconds_blocked(scope: str, ident: str, *, now: float | None = None) -> int | None:
    """Like seconds_until_allowed, without counting: None while `ident` is within its limit."""
    window = _current_window(scope, ident, now)
    count = cache.get(window.key, 0)
    return None if count <= window.rate.count else window.seconds_left


def throttled_response(retry_after: int) -> JsonResponse:
    response = JsonResponse(
        {"detail": f"Too many requests; try again in {retry_after} seconds.", "code": "throttled"},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def throttle(scope: str) -> Callable:
    """Limits a plain Django view per client address; answers 429 with Retry-After."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            retry_after = seconds_until_allowed(scope, client_address(request))
            if retry_after is not None:
                return throttled_response(retry_after)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# --- The API (DRF) -----------------------------------------------------------------------


def refuse_while_failing_authentication(request: Request) -> None:
    """Raises Throttled (429 with Retry-After) while the client address is over its
    allowance of failed authentications."""
    retry_after = seconds_blocked(AUTH_FAILURE_SCOPE, client_address(request))
    if retry_after is not None:
        raise exceptions.Throttled(retry_after)


def count_failed_authentication(request: Request) -> None:
    """Counts one failed authentication against the client address; raises Throttled when
    that puts the address over its allowance."""
    retry_after = seconds_until_allowed(AUTH_FAILURE_SCOPE, client_address(request))
    if retry_after is not None:
        raise exceptions.Throttled(retry_after)


class ApiRateThrottle(BaseThrottle):
    """Per user when the request is authenticated (every key of a user shares one limit,
    and a browser session of the same user too), else per client address.

    DRF turns a refusal into 429 with Retry-After from `wait()`.
    """

    scope = API_SCOPE

    def allow_request(self, request: Request, view) -> bool:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        self._wait = seconds_until_allowed(self.scope, ident)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
