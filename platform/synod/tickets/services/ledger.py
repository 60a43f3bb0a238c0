"""Metering: reserve a call's price before it is dispatched, charge it exactly once when the
provider's valid receipt comes back, or release it when it fails.

Every write takes the caller's TicketAccount row lock first (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite every transaction is BEGIN IMMEDIATE, which serializes writers), then
checks and moves the figures in the same transaction: no interleaving of reservations can
spend more than the account has available. A call's status moves RESERVED -> CHARGED or
RESERVED -> RELEASED once, under that lock; a second charge or release is a no-op that
returns the call as it is, and a receipt can pay for one call only (unique digest).

The receipt's signature is checked before any lock is taken: it is pure computation (no
node call), against the domain of the deployed ProviderRegistry.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from eth_utils import to_checksum_address

from synod.chain import selectors as chain_selectors
from synod.tickets import errors
from synod.tickets.models import MeteredCall, TicketAccount
from synod_core.errors import InvalidReceipt
from synod_core.merkle import receipt_leaf
from synod_core.receipts import ReceiptDomain, SignedReceipt, receipt_digest

_SHA256 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Reservation:
    """What the caller dispatches with: the call id and the job id the provider must sign.

    `replay` is the stored outcome of an earlier call with the same Idempotency-Key and the
    same request: answer it as it is, nothing was reserved again."""

    call_id: uuid.UUID
    job_id: bytes
    price: int
    status: str
    replay: dict[str, Any] | None = None


def job_id_for(call_id: uuid.UUID) -> bytes:
    """The receipt's bytes32 job id of a call: its UUID, left-padded with zeros."""
    return call_id.bytes.rjust(32, b"\x00")


def fingerprint_request(body: bytes) -> str:
    """The fingerprint that ties an Idempotency-Key to one request."""
    return hashlib.sha256(body).hexdigest()


def usable_allowance(account: TicketAccount, *, now: datetime, margin: timedelta) -> int:
    """The spending allowance left, if it stays valid for `margin` beyond `now`; else 0."""
    valid_until = account.allowance_valid_until
    return account.allowance_remaining if valid_until and valid_until > now + margin else 0


def spendable(account: TicketAccount, *, now: datetime | None = None) -> int:
    """Tickets a new call may reserve: the deposit left after a pending withdrawal, capped by
    the spending allowance (usable only while it stays valid for the settlement margin),
    less what is reserved and charged but not yet settled."""
    margin = timedelta(seconds=settings.TICKETS_ALLOWANCE_MARGIN_S)
    allowance = usable_allowance(account, now=now or timezone.now(), margin=margin)
    deposit = max(0, account.deposited - account.withdrawal_requested)
    return max(0, min(deposit, allowance) - account.reserved - account.charged)


def withdrawable(account: TicketAccount) -> int:
    """The most a withdrawal request may ask for without stranding reserved or charged
    tickets (those are settled from the deposit first)."""
    return max(0, account.deposited - account.reserved - account.charged)


def account_for(address: str, *, chain_id: int | None = None) -> TicketAccount:
    """The ledger account of `address`, created empty on first use."""
    account, _ = TicketAccount.objects.get_or_create(
        chain_id=settings.CHAIN_ID if chain_id is None else chain_id,
        address=to_checksum_address(address),
    )
    return account


def _locked(account_pk: int) -> TicketAccount:
    return TicketAccount.objects.select_for_update().get(pk=account_pk)


def _model_hash(value: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise errors.InvalidAmount("A model hash is a sha256: 64 hex digits.", field="model")
    return "0x" + value.removeprefix("0x").lower()


def reserve_call(
    *,
    address: str,
    model_hash: str,
    price: int,
    provider: str = "",
    api_key_id: int | None = None,
    key_cap: int | None = None,
    idempotency_key: str = "",
    request_digest: str = "",
) -> Reservation:
    """Hold `price` tickets of `address` for one call, atomically, before it is dispatched.

    Raises InsufficientTickets (402) when the account's available tickets do not cover it,
    KeyCapReached (402) when the API key's own cap would be passed, CallInProgress (409) or
    IdempotencyKeyReused (422) for a repeated Idempotency-Key; a repeated key whose call
    finished returns that call with `replay` set and reserves nothing.
    """
    if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
        raise errors.InvalidAmount("A call's price is a positive whole number of tickets.")
    if len(idempotency_key) > 255:
        raise errors.InvalidAmount("An Idempotency-Key is at most 255 characters.")
    model_hash = _model_hash(model_hash)
    account = account_for(address)
    with transaction.atomic():
        account = _locked(account.pk)
        if idempotency_key:
            earlier = MeteredCall.objects.filter(
                account=account, idempotency_key=idempotency_key
            ).first()
            if earlier is not None:
                return _replay(earlier, request_digest)
        available = spendable(account)
        if price > available:
            raise errors.InsufficientTickets(
                f"This call costs {price} tickets and {available} are available "
                f"(deposited {account.deposited}, spending allowance "
                f"{account.allowance_remaining}, reserved {account.reserved}, charged and "
                f"not yet settled {account.charged}). Deposit tickets or raise your spending "
                "allowance on the API keys page."
            )
        if api_key_id is not None and key_cap is not None:
            used = (
                MeteredCall.objects.filter(
                    api_key_id=api_key_id,
                    status__in=[MeteredCall.Status.RESERVED, MeteredCall.Status.CHARGED],
                ).aggregate(total=Sum("price"))["total"]
                or 0
            )
            if used + price > key_cap:
                raise errors.KeyCapReached(
                    f"This API key's spending cap is {key_cap} tickets and {used} are used; "
                    f"this call costs {price}. Raise the key's cap or use another key."
                )
        call = MeteredCall.objects.create(
            account=account,
            api_key_id=api_key_id,
            idempotency_key=idempotency_key,
            request_digest=request_digest,
            model_hash=model_hash,
            price=price,
            provider=to_checksum_address(provider) if provider else "",
        )
        account.reserved += price
        account.save(update_fields=["reserved", "updated_at"])
    return Reservation(call.call_id, job_id_for(call.call_id), price, call.status)


def _replay(earlier: MeteredCall, digest: str) -> Reservation:
    if earlier.request_digest != digest:
        raise errors.IdempotencyKeyReused(
            "This Idempotency-Key was used for a different request; use a new key for a new "
            "request."
        )
    if earlier.status == MeteredCall.Status.RESERVED:
        raise errors.CallInProgress(
            "The call with this Idempotency-Key is still running; retry in a moment for its result."
        )
    return Reservation(
        earlier.call_id,
        job_id_for(earlier.call_id),
        earlier.price,
        earlier.status,
        replay=earlier.outcome or {},
    )


def receipt_domain() -> ReceiptDomain:
    """The EIP-712 domain receipts are signed in: the deployed ProviderRegistry."""
    address = chain_selectors.contract_address("ProviderRegistry")
    if address is None:
        raise errors.InvalidCallReceipt("ProviderRegistry is not deployed on this chain yet.")
    return ReceiptDomain(chain_id=settings.CHAIN_ID, verifying_contract=address)


def _checked_receipt(call: MeteredCall, signed_receipt: Any) -> tuple[SignedReceipt, bytes]:
    try:
        signed = SignedReceipt.from_json(signed_receipt)
    except InvalidReceipt as exc:
        raise errors.InvalidCallReceipt(f"The provider's receipt is malformed: {exc}") from exc
    receipt = signed.receipt
    problems = []
    if receipt.job_id != job_id_for(call.call_id):
        problems.append("it names another call")
    if "0x" + receipt.model_hash.hex() != call.model_hash:
        problems.append("it names another model")
    if receipt.tickets_charged != call.price:
        problems.append(f"it charges {receipt.tickets_charged} tickets, not {call.price}")
    if call.provider and receipt.provider != call.provider:
        problems.append("it is not from the provider the call was sent to")
    domain = receipt_domain()
    if not problems and not signed.verify(domain):
        problems.append("its signature is not the provider's")
    if problems:
        raise errors.InvalidCallReceipt(
            "The provider's receipt does not pay for this call: " + "; ".join(problems) + "."
        )
    return signed, receipt_digest(receipt, domain)


def charge_call(
    *,
    call_id: uuid.UUID,
    signed_receipt: Any,
    latency_ms: int | None = None,
    outcome: dict[str, Any] | None = None,
) -> MeteredCall:
    """Charge a reserved call once, on the provider's valid signed receipt.

    The receipt must name this call (job id), its model and price, and be signed by its
    provider; otherwise InvalidCallReceipt and nothing is charged. A call already charged is
    returned as it is (never charged twice); a released one cannot be charged any more."""
    call = _call(call_id)
    signed, digest = _checked_receipt(call, signed_receipt)
    with transaction.atomic():
        account = _locked(call.account_id)
        call = MeteredCall.objects.select_for_update().get(pk=call.pk)
        if call.status == MeteredCall.Status.CHARGED:
            return call
        if call.status == MeteredCall.Status.RELEASED:
            raise errors.InvalidCallReceipt(
                f"This call was already released ({call.release_reason}) and is not charged."
            )
        call.status = MeteredCall.Status.CHARGED
        call.provider = signed.receipt.provider
        call.receipt = signed.as_json()
        call.receipt_digest = "0x" + digest.hex()
        call.receipt_leaf = "0x" + receipt_leaf(digest).hex()
        call.latency_ms = latency_ms
        call.outcome = outcome
        call.finished_at = timezone.now()
        call.save()
        account.reserved -= call.price
        account.charged += call.price
        account.save(update_fields=["reserved", "charged", "updated_at"])
    return call


def release_call(
    *, call_id: uuid.UUID, reason: str, outcome: dict[str, Any] | None = None
) -> MeteredCall:
    """Give a reserved call's tickets back (it failed, timed out or was refused). A call
    already charged or released is returned as it is."""
    call = _call(call_id)
    with transaction.atomic():
        account = _locked(call.account_id)
        call = MeteredCall.objects.select_for_update().get(pk=call.pk)
        if call.status != MeteredCall.Status.RESERVED:
            return call
        call.status = MeteredCall.Status.RELEASED
        call.release_reason = reason[:300]
        call.outcome = outcome
        call.finished_at = timezone.now()
        call.save(update_fields=["status", "release_reason", "outcome", "finished_at"])
        account.reserved -= call.price
        account.save(update_fields=["reserved", "updated_at"])
    return call


def _call(call_id: uuid.UUID) -> MeteredCall:
    call = MeteredCall.objects.filter(call_id=call_id).first()
    if call is None:
        raise errors.CallNotFound(f"No call {call_id}.")
    return call
