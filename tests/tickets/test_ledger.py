"""The metering ledger: reserve before dispatch, charge exactly once on a valid receipt,
release on failure, replay for a repeated Idempotency-Key."""

from __future__ import annotations

import uuid

import pytest

from synod.tickets import errors, services
from synod.tickets.models import MeteredCall, TicketAccount
from synod.tickets.services import ledger
from tests.tickets.ledger_helpers import (
    DOMAIN,
    MODEL,
    OTHER_PROVIDER_KEY,
    PROVIDER,
    USER,
    fund,
    receipt_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def receipts_in_a_fixed_domain(monkeypatch):
    # The domain is configuration (the deployed ProviderRegistry); these tests need no chain.
    monkeypatch.setattr(ledger, "receipt_domain", lambda: DOMAIN)


def _figures(address: str = USER) -> tuple[int, int, int]:
    account = TicketAccount.objects.get(address=address)
    return account.reserved, account.charged, services.spendable(account)


def test_reserve_then_charge_moves_the_price_once():
    fund(deposit=10)
    reservation = services.reserve_call(address=USER, model_hash=MODEL, price=3, provider=PROVIDER)
    assert _figures() == (3, 0, 7)
    call = services.charge_call(
        call_id=reservation.call_id, signed_receipt=receipt_for(reservation), latency_ms=12
    )
    assert call.status == MeteredCall.Status.CHARGED and call.latency_ms == 12
    assert call.receipt_leaf.startswith("0x") and len(call.receipt_leaf) == 66
    assert _figures() == (0, 3, 7)
    # The same receipt again, or a release after the charge: nothing moves.
    again = services.charge_call(
        call_id=reservation.call_id, signed_receipt=receipt_for(reservation)
    )
    assert again.pk == call.pk
    services.release_call(call_id=reservation.call_id, reason="late timeout")
    assert _figures() == (0, 3, 7)
    assert MeteredCall.objects.get().status == MeteredCall.Status.CHARGED


def test_release_gives_the_reservation_back_and_a_late_receipt_charges_nothing():
    fund(deposit=5)
    reservation = services.reserve_call(address=USER, model_hash=MODEL, price=5)
    assert _figures() == (5, 0, 0)
    services.release_call(call_id=reservation.call_id, reason="provider timed out")
    assert _figures() == (0, 0, 5)
    with pytest.raises(errors.InvalidCallReceipt, match="already released"):
        services.charge_call(call_id=reservation.call_id, signed_receipt=receipt_for(reservation))
    assert _figures() == (0, 0, 5)


def test_a_call_beyond_what_is_available_is_refused_with_the_figures():
    fund(deposit=4)
    services.reserve_call(address=USER, model_hash=MODEL, price=3)
    with pytest.raises(errors.InsufficientTickets) as refused:
        services.reserve_call(address=USER, model_hash=MODEL, price=2)
    assert refused.value.status_code == 402
    assert "costs 2 tickets and 1 are available" in refused.value.detail
    assert MeteredCall.objects.count() == 1


def test_the_spending_allowance_caps_what_a_deposit_allows():
    fund(deposit=100, allowance=6)
    services.reserve_call(address=USER, model_hash=MODEL, price=6)
    with pytest.raises(errors.InsufficientTickets):
        services.reserve_call(address=USER, model_hash=MODEL, price=1)


def test_an_allowance_ending_within_the_settlement_margin_is_not_usable(settings):
    settings.TICKETS_ALLOWANCE_MARGIN_S = 3600
    fund(deposit=100, days=0)  # valid until now: inside the margin
    with pytest.raises(errors.InsufficientTickets):
        services.reserve_call(address=USER, model_hash=MODEL, price=1)


def test_a_pending_withdrawal_is_not_spendable_and_withdrawable_excludes_held_tickets():
    account = fund(deposit=10)
    account.withdrawal_requested = 6
    account.save()
    services.reserve_call(address=USER, model_hash=MODEL, price=4)
    with pytest.raises(errors.InsufficientTickets):
        services.reserve_call(address=USER, model_hash=MODEL, price=1)
    assert services.withdrawable(TicketAccount.objects.get()) == 6


def test_an_api_key_cap_is_enforced_over_reserved_and_charged_calls():
    fund(deposit=100)
    first = services.reserve_call(address=USER, model_hash=MODEL, price=4, api_key_id=7, key_cap=6)
    services.charge_call(call_id=first.call_id, signed_receipt=receipt_for(first))
    with pytest.raises(errors.KeyCapReached, match="cap is 6 tickets and 4 are used"):
        services.reserve_call(address=USER, model_hash=MODEL, price=3, api_key_id=7, key_cap=6)
    # Another key of the same user is not held back by it.
    services.reserve_call(address=USER, model_hash=MODEL, price=3, api_key_id=8, key_cap=6)


def test_an_idempotency_key_replays_the_outcome_instead_of_charging_again():
    fund(deposit=10)
    digest = services.fingerprint_request(b'{"inputs": [1]}')
    first = services.reserve_call(
        address=USER, model_hash=MODEL, price=2, idempotency_key="k1", request_digest=digest
    )
    with pytest.raises(errors.CallInProgress):
        services.reserve_call(
            address=USER, model_hash=MODEL, price=2, idempotency_key="k1", request_digest=digest
        )
    services.charge_call(
        call_id=first.call_id, signed_receipt=receipt_for(first), outcome={"outputs": [0.5]}
    )
    replay = services.reserve_call(
        address=USER, model_hash=MODEL, price=2, idempotency_key="k1", request_digest=digest
    )
    assert replay.call_id == first.call_id and replay.replay == {"outputs": [0.5]}
    assert _figures() == (0, 2, 8)
    with pytest.raises(errors.IdempotencyKeyReused) as reused:
        services.reserve_call(
            address=USER, model_hash=MODEL, price=2, idempotency_key="k1",
            request_digest=services.fingerprint_request(b"another request"),
        )  # fmt: skip
    assert reused.value.status_code == 422


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"key": OTHER_PROVIDER_KEY}, "not from the provider the call was sent to"),
        ({"tickets": 1}, "charges 1 tickets, not 2"),
        ({"model": "0x" + "cd" * 32}, "names another model"),
    ],
)
def test_a_receipt_that_does_not_match_the_call_charges_nothing(change, problem):
    fund(deposit=10)
    reservation = services.reserve_call(address=USER, model_hash=MODEL, price=2, provider=PROVIDER)
    with pytest.raises(errors.InvalidCallReceipt, match=problem):
        services.charge_call(
            call_id=reservation.call_id, signed_receipt=receipt_for(reservation, **change)
        )
    assert _figures() == (2, 0, 8)


def test_a_receipt_for_another_call_or_with_a_forged_signature_charges_nothing():
    fund(deposit=10)
    mine = services.reserve_call(address=USER, model_hash=MODEL, price=2)
    other = services.reserve_call(address=USER, model_hash=MODEL, price=2)
    with pytest.raises(errors.InvalidCallReceipt, match="names another call"):
        services.charge_call(call_id=mine.call_id, signed_receipt=receipt_for(other))
    forged = receipt_for(mine)
    forged["receipt"]["provider"] = PROVIDER.replace(PROVIDER[2:6], "dead")
    with pytest.raises(errors.InvalidCallReceipt):
        services.charge_call(call_id=mine.call_id, signed_receipt=forged)
    with pytest.raises(errors.InvalidCallReceipt, match="malformed"):
        services.charge_call(call_id=mine.call_id, signed_receipt={"receipt": {}})
    assert _figures() == (4, 0, 6)


def test_bad_amounts_and_unknown_calls_are_refused():
    fund(deposit=10)
    for price in (0, -1, True, 1.5):
        with pytest.raises(errors.InvalidAmount):
            services.reserve_call(address=USER, model_hash=MODEL, price=price)
    with pytest.raises(errors.InvalidAmount, match="sha256"):
        services.reserve_call(address=USER, model_hash="not-a-hash", price=1)
    with pytest.raises(errors.CallNotFound):
        services.release_call(call_id=uuid.uuid4(), reason="x")
