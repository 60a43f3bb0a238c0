"""Browser endpoints: Sign-In with Ethereum, sign-out, the dashboard shell, API keys."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from eth_utils import is_address, to_checksum_address

from synod.accounts import errors, selectors, services
from synod.accounts.forms import ApiKeyCapForm, ApiKeyCreateForm
from synod.common.throttles import throttle

MAX_SIGN_IN_BODY_BYTES = 8 * 1024
SIGN_IN_STATEMENT = "Sign in to Synod."


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _site(request: HttpRequest) -> services.SiteIdentity:
    return services.SiteIdentity(scheme=request.scheme, host=request.get_host())


# --- Sign-in --------------------------------------------------------------------------------


@require_GET
def sign_in_page(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, request.GET.get("next"))
    if request.user.is_authenticated:
        return redirect(next_url)
    return render(request, "accounts/sign_in.html", {"next_url": next_url})


@require_GET
@never_cache
@throttle("siwe-nonce")
def nonce(request: HttpRequest) -> JsonResponse:
    """A fresh sign-in nonce. With ?address=, also that address EIP-55 checksummed, which
    the message must carry (wallets often report addresses in lower case)."""
    address = request.GET.get("address")
    if address is not None and not is_address(address):
        raise errors.RequestBodyInvalid("`address` is not a 20-byte hex address.")
    issued = services.issue_nonce()
    data = {
        "nonce": issued.value,
        "expires_at": issued.expires_at.isoformat(),
        "chain_id": settings.CHAIN_ID,
        "statement": SIGN_IN_STATEMENT,
    }
    if address is not None:
        data["address"] = to_checksum_address(address)
    return JsonResponse(data)


@require_POST
@never_cache
@throttle("siwe-sign-in")
def siwe_sign_in(request: HttpRequest) -> JsonResponse:
    """Body: {"message": <EIP-4361 text>, "signature": <0x hex>, "next": <optional path>}."""
    if len(request.body) > MAX_SIGN_IN_BODY_BYTES:
        raise errors.RequestBodyTooLarge("The request body is too large.")
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise errors.RequestBodyInvalid("The request body must be JSON.") from None
    if not isinstance(payload, dict):
        raise errors.RequestBodyInvalid("The request body must be a JSON object.")
    user = services.sign_in_with_ethereum(
        message=payload.get("message"), signature=payload.get("signature"), site=_site(request)
    )
    # login() gives the session a new key, so a key planted before sign-in is worthless.
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    next_url = payload.get("next") if isinstance(payload.get("next"), str) else None
    return JsonResponse({"address": user.address, "redirect": _safe_next(request, next_url)})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)  # flushes the session: data and key
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"detail": "Signed out."})
    return redirect(settings.LOGOUT_REDIRECT_URL)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF refusals as JSON for the JSON endpoints, as a page elsewhere."""
    detail = "The CSRF check failed: reload the page and try again."
    if request.path.startswith(("/auth/", "/api/")) or request.content_type == "application/json":
        return JsonResponse({"detail": detail, "code": "csrf_failed"}, status=403)
    return render(request, "accounts/csrf_failure.html", {"detail": detail}, status=403)


# --- Dashboard ------------------------------------------------------------------------------


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    figures = selectors.chain_figures(request.user.address)
    return render(
        request,
        "dashboard/index.html",
        {
            "figures": figures,
            "councils": ["data", "model", "compute"],
            "api_key_count": services.active_key_count(request.user),
        },
    )


# --- API keys -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def api_keys(request: HttpRequest) -> HttpResponse:
    new_key = None
    error = ""
    status = 200
    form = ApiKeyCreateForm()
    if request.method == "POST":
        form = ApiKeyCreateForm(request.POST)
        if form.is_valid():
            try:
                new_key = services.create_api_key(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    expires_on=form.cleaned_data["expires_on"],
                    client_token=form.cleaned_data["client_token"],
                    spending_cap_tickets=form.cleaned_data["spending_cap_tickets"],
                )
                form = ApiKeyCreateForm()
            except errors.AccountError as exc:
                # The form is shown again with the refusal: rendering, not choosing a status.
                error, status = exc.detail, exc.status_code
        else:
            status = 400
    return _render_keys(request, form=form, new_key=new_key, error=error, status=status)


@require_POST
@login_required
def revoke_api_key(request: HttpRequest, prefix: str) -> HttpResponse:
    if not services.revoke_api_key(user=request.user, prefix=prefix):
        return _render_keys(request, error="No such key.", status=404)
    if not request.htmx:
        return redirect("accounts:api-keys")
    return _render_keys(request, message=f"Key {prefix}… revoked.")


@require_POST
@login_required
def set_api_key_cap(request: HttpRequest, prefix: str) -> HttpResponse:
    """Sets or removes (empty) one key's spending cap."""
    form = ApiKeyCapForm(request.POST)
    if not form.is_valid():
        messages = form.errors.get("spending_cap_tickets") or ["Enter a whole number of tickets."]
        return _render_keys(request, error=" ".join(str(m) for m in messages), status=400)
    cap = form.cleaned_data["spending_cap_tickets"]
    try:
        api_key = services.set_api_key_spending_cap(user=request.user, prefix=prefix, cap=cap)
    except errors.AccountError as exc:
        return _render_keys(request, error=exc.detail, status=exc.status_code)
    if api_key is None:
        return _render_keys(request, error="No such key.", status=404)
    if not request.htmx:
        return redirect("accounts:api-keys")
    said = f"a cap of {cap} tickets" if cap is not None else "no cap of its own"
    return _render_keys(request, message=f"Key {prefix}… now has {said}.")


def _render_keys(
    request: HttpRequest,
    *,
    form: ApiKeyCreateForm | None = None,
    new_key: services.NewApiKey | None = None,
    error: str = "",
    message: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form or ApiKeyCreateForm(),
        "keys": selectors.api_keys_of(request.user),
        "new_key": new_key,
        "error": error,
        "message": message,
    }
    template = "accounts/_api_keys_panel.html" if request.htmx else "accounts/api_keys.html"
    if not request.htmx:
        # The spending allowance panel (its figures come from the chain) is not part of the
        # keys panel that htmx swaps: read only for the whole page.
        context["tickets"] = selectors.ticket_figures(request.user.address)
    response = render(request, template, context, status=status)
    # The page may hold a key shown once: keep it out of every cache and the back button.
    response["Cache-Control"] = "no-store"
    return response
