"""Tickets pages (htmx) and the small JSON endpoints tickets.js calls.

The server checks and builds every transaction (wallet_transactions); the wallet only signs
or sends it. Views parse, call and render; refusals rise as ApplicationError subclasses and
ApplicationErrorMiddleware answers them (JSON with their status for tickets.js, the error
page else). Every page here is the signed-in user's own data.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from datetime import UTC
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from synod.chain import selectors as chain_selectors
from synod.chain import services as chain_services
from synod.tickets import selectors, services
from synod.tickets import wallet_transactions as wallet
from synod.tickets.forms import (
    AllowanceForm,
    AllowanceSignatureForm,
    AmountForm,
    BuyForm,
    ExplainForm,
    PermitDepositForm,
)

if TYPE_CHECKING:
    from synod.chain.models import OutgoingTransaction

logger = logging.getLogger(__name__)

# Relayed allowance transactions this session submitted (their idempotency keys): only their
# owner follows them.
SESSION_ALLOWANCE_KEYS = "tickets:allowance-keys"
JS_SAFE_INT = 2**53 - 1
USAGE_PAGE_ROWS = 100
MAX_SESSION_KEYS = 20


def _cleaned(form: forms.Form) -> dict[str, Any]:
    """The form's data; a refusal naming the first wrong field otherwise."""
    if form.is_valid():
        return form.cleaned_data
    field, messages = next(iter(form.errors.items()))
    label = form.fields[field].label if field in form.fields else ""
    detail = " ".join(str(m) for m in messages)
    if label and field != "__all__" and not detail.startswith(("Enter", "The", "Pick", "Allow")):
        detail = f"{label}: {detail}"
    raise wallet.TicketAmountInvalid(detail, field=None if field == "__all__" else field)


def _balances(address: str) -> tuple[wallet.TicketBalances | None, str]:
    try:
        return wallet.balances(address), ""
    except ConnectionError as exc:
        logger.info("tickets page chain read failed for %s: %s", address, exc)
        return None, "The chain does not answer right now; balances show again once it does."
    except wallet.TicketContractsMissing as exc:
        return None, exc.detail


def _call_response(call: wallet.WalletCall, **extra: Any) -> JsonResponse:
    return JsonResponse({"call": call.as_dict(), **extra})


# --- The tickets page -------------------------------------------------------------------------


@require_GET
@login_required
def tickets_page(request: HttpRequest) -> HttpResponse:
    balances, error = _balances(request.user.address)
    context = {
        "balances": balances,
        "chain_error": error,
        "buy_form": BuyForm(),
        "amount_form": AmountForm(),
    }
    return render(request, "tickets/page.html", context)


@require_GET
@never_cache
@login_required
def balances_partial(request: HttpRequest) -> HttpResponse:
    balances, error = _balances(request.user.address)
    return render(request, "tickets/_balances.html", {"balances": balances, "chain_error": error})


@require_GET
@never_cache
@login_required
def quote_partial(request: HttpRequest) -> HttpResponse:
    """The live quote under the buy form: tickets for the ETH typed, and the change."""
    form = BuyForm(request.GET)
    context: dict[str, Any] = {"quote": None, "problem": ""}
    status = 200
    if not request.GET.get("eth", "").strip():
        context["problem"] = ""
    elif not form.is_valid():
        context["problem"] = " ".join(str(m) for m in form.errors.get("eth", []))
        status = 400
    else:
        try:
            paid = wallet.eth_to_wei(form.cleaned_data["eth"])
            context["quote"] = wallet.quote(paid)
        except wallet.TicketAmountInvalid as exc:
            context["problem"], status = exc.detail, exc.status_code
        except wallet.TicketTransactionRefused as exc:  # no contract: said in the quote's place
            context["problem"] = exc.detail
        except ConnectionError:
            context["problem"] = "No quote: the chain does not answer right now."
    return render(request, "tickets/_quote.html", context, status=status)


@require_POST
@login_required
def buy_call(request: HttpRequest) -> JsonResponse:
    data = _cleaned(BuyForm(request.POST))
    call, offer = wallet.buy_call(request.user.address, wallet.eth_to_wei(data["eth"]))
    return _call_response(call, tickets=offer.tickets, change=offer.change_eth)


@require_POST
@login_required
def deposit_permit(request: HttpRequest) -> JsonResponse:
    data = _cleaned(AmountForm(request.POST))
    typed = wallet.deposit_permit(request.user.address, data["amount"])
    return JsonResponse({"typedData": _js_safe(typed), "deadline": typed["message"]["deadline"]})


@require_POST
@login_required
def deposit_call(request: HttpRequest) -> JsonResponse:
    """With a permit signature: `depositWithPermit`; without: `deposit` (after approve)."""
    if request.POST.get("signature"):
        data = _cleaned(PermitDepositForm(request.POST))
        call = wallet.deposit_with_permit_call(
            request.user.address, data["amount"], data["deadline"], data["signature"]
        )
    else:
        data = _cleaned(AmountForm(request.POST))
        call = wallet.deposit_call(request.user.address, data["amount"])
    return _call_response(call)


@require_POST
@login_required
def approve_call(request: HttpRequest) -> JsonResponse:
    data = _cleaned(AmountForm(request.POST))
    return _call_response(wallet.approve_call(request.user.address, data["amount"]))


@require_POST
@login_required
def request_withdrawal_call(request: HttpRequest) -> JsonResponse:
    data = _cleaned(AmountForm(request.POST))
    return _call_response(wallet.request_withdrawal_call(request.user.address, data["amount"]))


@require_POST
@login_required
def complete_withdrawal_call(request: HttpRequest) -> JsonResponse:
    return _call_response(wallet.complete_withdrawal_call(request.user.address))


@require_POST
@login_required
def claim_call(request: HttpRequest) -> JsonResponse:
    """A provider's claim of every credited ticket (the provider page's button)."""
    return _call_response(wallet.claim_call(request.user.address))


@require_POST
@login_required
def explain(request: HttpRequest) -> JsonResponse:
    """Why a transaction the page built reverted once mined, in words."""
    data = _cleaned(ExplainForm(request.POST))
    reverts, detail = wallet.explain_transaction(
        request.user.address, to=data["to"], data=data["data"], value=data["value"]
    )
    return JsonResponse({"reverts": reverts, "detail": detail})


@require_POST
@login_required
def sync(request: HttpRequest) -> JsonResponse:
    """A transaction was just mined: ask a worker to index it now, not at the next beat."""
    chain_services.request_indexing()
    return JsonResponse(
        {"detail": "The platform is indexing the latest blocks; figures update shortly."},
        status=202,
    )


def _js_safe(value: Any) -> Any:
    """Typed data for the browser: integers beyond JavaScript's safe range as decimal
    strings (eth_signTypedData_v4 takes either)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= JS_SAFE_INT else str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {key: _js_safe(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_js_safe(v) for v in value]
    return value


# --- Spending allowance (the API keys page's panel) -------------------------------------------


@require_POST
@login_required
def allowance_typed_data(request: HttpRequest) -> JsonResponse:
    form = AllowanceForm(request.POST)
    data = _cleaned(form)
    valid_until = form.valid_until_timestamp
    typed = selectors.allowance_typed_data(request.user.address, data["max_tickets"], valid_until)
    return JsonResponse(
        {"typedData": _js_safe(typed), "maxTickets": str(data["max_tickets"]),
         "validUntil": valid_until}
    )  # fmt: skip


@require_POST
@login_required
def allowance_submit(request: HttpRequest) -> JsonResponse:
    data = _cleaned(AllowanceSignatureForm(request.POST))
    outgoing = services.submit_spending_allowance(
        address=request.user.address,
        max_tickets=data["max_tickets"],
        valid_until=data["valid_until"],
        signature=data["signature"],
    )
    key = outgoing.idempotency_key
    keys = [k for k in request.session.get(SESSION_ALLOWANCE_KEYS, []) if k != key]
    request.session[SESSION_ALLOWANCE_KEYS] = [*keys, key][-MAX_SESSION_KEYS:]
    return JsonResponse(_allowance_status(outgoing), status=202)


@require_GET
@never_cache
@login_required
def allowance_status(request: HttpRequest) -> JsonResponse:
    key = request.GET.get("key", "")
    outgoing = None
    if key and key in request.session.get(SESSION_ALLOWANCE_KEYS, []):
        outgoing = chain_selectors.outgoing_transaction(key)
    if outgoing is None:
        return JsonResponse(
            {"detail": "No such allowance transaction of yours.", "code": "not_found"},
            status=404,
        )
    answer = _allowance_status(outgoing)
    if answer["status"] == "confirmed":
        chain_services.request_indexing()
    return JsonResponse(answer)


def _allowance_status(outgoing: OutgoingTransaction) -> dict[str, Any]:
    if outgoing.status == chain_selectors.OutgoingStatus.MINED:
        shown, detail = "confirmed", "Spending allowance confirmed on chain."
    elif outgoing.status == chain_selectors.OutgoingStatus.FAILED:
        reason = outgoing.revert_name or outgoing.last_error or "reverted without a reason"
        shown, detail = "failed", f"The allowance transaction failed: {reason}."
    else:
        shown = "pending"
        detail = (
            "Pending: the platform is sending your signed allowance; it holds once the "
            "transaction is mined."
        )
    return {
        "status": shown,
        "txHash": outgoing.tx_hash or "",
        "key": outgoing.idempotency_key,
        "detail": detail,
    }


@require_GET
@never_cache
@login_required
def allowance_figures(request: HttpRequest) -> HttpResponse:
    """The allowance figures of the API keys page, refreshed after a confirmation."""
    try:
        summary, error = selectors.ticket_summary(request.user.address), ""
    except ConnectionError:
        summary, error = None, "The chain does not answer right now."
    return render(
        request, "tickets/_allowance_figures.html", {"summary": summary, "chain_error": error}
    )


# --- Usage ----------------------------------------------------------------------------------


@require_GET
@login_required
def usage_page(request: HttpRequest) -> HttpResponse:
    address = request.user.address
    try:
        before = parse_datetime(request.GET.get("before", "") or "")
    except ValueError:  # well formed, not a real time: the latest page
        before = None
    if before is not None and timezone.is_naive(before):
        before = timezone.make_aware(before, UTC)
    rows = selectors.usage_for(address, limit=USAGE_PAGE_ROWS, before=before)
    daily = selectors.daily_usage(address, days=30)
    chart = [
        {"date": day.isoformat(), "model": model, "tickets": tickets}
        for day, model, tickets in daily
    ]
    context = {
        "rows": [{"row": row, "receipt_json": _pretty(row.receipt)} for row in rows],
        "chart": chart,
        "chart_json": json.dumps(chart),
        "daily": daily,
        "batches": selectors.batches_for(address),
        "older": rows[-1].created_at.isoformat() if len(rows) == USAGE_PAGE_ROWS else "",
        "paged": before is not None,
    }
    return render(request, "tickets/usage.html", context)


def _pretty(receipt: dict | None) -> str:
    return "" if receipt is None else json.dumps(receipt, indent=2, sort_keys=True, default=str)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
def usage_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every call of the signed-in user, as CSV (header first)."""
    writer = csv.writer(_Echo())
    rows: Iterator = selectors.usage_csv_rows(request.user.address)
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="synod-usage.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def batch_proofs(request: HttpRequest, number: int) -> HttpResponse:
    """The receipts of one settled batch with their Merkle proofs; only the signed-in user's
    own calls (another user's batch number is simply not found)."""
    bundle = selectors.proof_bundle(request.user.address, number)
    response = HttpResponse(
        json.dumps(bundle, indent=2, sort_keys=True, default=str),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="synod-batch-{number}-proofs.json"'
    response["Cache-Control"] = "no-store"
    return response
