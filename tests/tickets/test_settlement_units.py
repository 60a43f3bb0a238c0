"""Settlement arithmetic and waiving, without a chain."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from synod.tickets import services
from synod.tickets.models import MeteredCall, TicketAccount
from synod.tickets.services import ledger, settlement
from tests.tickets.ledger_helpers import DOMAIN, MODEL, PROVIDER, USER, fund, receipt_for

ADDRESSES = [f"0x{n:040x}" for n in range(1, 6)]


@given(
    st.lists(
        st.tuples(st.sampled_from(ADDRESSES), st.sampled_from(ADDRESSES), st.integers(1, 10**6)),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 1_000),
)
def test_a_split_batch_balances_exactly_with_the_contracts_fee(lines, fee_bps):
    calls = [
        SimpleNamespace(account=SimpleNamespace(address=user), provider=provider, price=price)
        for user, provider, price in lines
    ]
    debits, credits, fee = settlement.split_batch(calls, fee_bps)
    total = sum(price for _, _, price in lines)
    assert sum(amount for _, amount in debits) == total
    assert fee == total * fee_bps // 10_000
    assert sum(amount for _, amount in credits) + fee == total
    assert all(amount > 0 for _, amount in credits)
    assert [a for a, _ in debits] == sorted(a for a, _ in debits)
    assert [p for p, _ in credits] == sorted(p for p, _ in credits)


@pytest.mark.django_db
def test_a_charged_call_that_cannot_be_settled_in_time_is_waived(monkeypatch, settings):
    monkeypatch.setattr(ledger, "receipt_domain", lambda: DOMAIN)
    settings.TICKETS_UNBILLABLE_AFTER_S = 3600
    fund(deposit=10)
    old, recent = (
        services.reserve_call(address=USER, model_hash=MODEL, price=3, provider=PROVIDER)
        for _ in range(2)
    )
    for reservation in (old, recent):
        services.charge_call(call_id=reservation.call_id, signed_receipt=receipt_for(reservation))
    MeteredCall.objects.filter(call_id=old.call_id).update(
        finished_at=timezone.now() - timedelta(hours=2)
    )
    assert services.waive_unbillable() == 1
    assert services.waive_unbillable() == 0  # once
    waived = MeteredCall.objects.get(call_id=old.call_id)
    assert waived.status == "released" and waived.release_reason.startswith("waived")
    assert TicketAccount.objects.get().charged == 3
