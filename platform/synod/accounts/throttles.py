"""Rate limits on a cache shared by every process (see CACHES): per client address for the
sign-in endpoints, per API key (or address) for the API.

A fixed window per scope and client: cheap, and good enough to stop floods of nonces and
signature checks. Rates come from settings.SYNOD_THROTTLE_RATES, e.g. "30/minute".
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
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

PERIODS_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


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


def seconds_until_allowed(scope: str, ident: str, *, now: float | None = None) -> int | None:
    """Counts one request; returns None when allowed, else the seconds until the window ends."""
    rate = rate_for(scope)
    now = time.time() if now is None else now
    window = int(now // rate.period_s)
    key = f"throttle:{scope}:{ident}:{window}"
    if cache.add(key, 1, timeout=rate.period_s + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # the window expired between add and incr
            cache.set(key, 1, timeout=rate.period_s + 1)
            count = 1
    if count <= rate.count:
        return None
    return max(1, math.ceil((window + 1) * rate.period_s - now))


def throttled_response(retry_after: int) -> JsonResponse:
    response = JsonResponse(
        {"detail": f"Too many requests; try again in {retry_after} seconds."}, status=429
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


class ApiRateThrottle(BaseThrottle):
    """Per API key when one authenticated the request, else per client address.

    DRF turns a refusal into 429 with Retry-After from `wait()`.
    """

    scope = "api"

    def allow_request(self, request: Request, view) -> bool:
        auth = getattr(request, "auth", None)
        ident = f"key:{auth.prefix}" if hasattr(auth, "prefix") else f"ip:{self.get_ident(request)}"
        self._wait = seconds_until_allowed(self.scope, ident)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
