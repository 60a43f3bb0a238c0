"""Random interleavings of deposit, allowance, reserve, charge, release, settle (or a failed
settlement), withdrawal request and completion keep every balance non-negative, conserve
tickets, and never let a user spend more than they deposited."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from synod.chain.selectors import DecodedEvent
from synod.tickets import errors, services
from synod.tickets.models import EscrowCredit, MeteredCall, SettlementBatch, TicketAccount
from synod.tickets.services import ledger, mirror, settlement
from tests.tickets.ledger_helpers import DOMAIN, MODEL, PROVIDER, receipt_for

USERS = [
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
]
TREASURY = "0x" + "7e" * 20
FEE_BPS = 250
_events = itertools.count()


def _event(name: str, **args) -> DecodedEvent:
    n = next(_events)
    return DecodedEvent(
        chain_id=31337, contract="TicketEscrow", address="0x" + "e5" * 20, event=name, args=args,
        block_number=n, block_hash="0x" + f"{n:064x}", tx_hash="0x" + f"{n:064x}", log_index=0,
        block_timestamp=int(datetime.now(tz=UTC).timestamp()),
    )  # fmt: skip


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        for model in (MeteredCall, SettlementBatch, EscrowCredit, TicketAccount):
            model.objects.all().delete()
        self.deposits_in = dict.fromkeys(USERS, 0)
        self.withdrawn = dict.fromkeys(USERS, 0)
        self.onchain_deposit = dict.fromkeys(USERS, 0)
        self.reserved: list[services.Reservation] = []
        self.next_batch = 1

    # --- chain side, as the indexer would report it -------------------------------------

    @rule(user=st.sampled_from(USERS), amount=st.integers(1, 30))
    def deposit(self, user: str, amount: int) -> None:
        mirror.record_deposit(_event("Deposited", user=user, amount=amount))
        self.deposits_in[user] += amount
        self.onchain_deposit[user] += amount

    @rule(user=st.sampled_from(USERS), cap=st.integers(0, 60))
    def set_allowance(self, user: str, cap: int) -> None:
        valid_until = int((datetime.now(tz=UTC) + timedelta(days=30)).timestamp())
        mirror.record_allowance_set(
            _event(
                "SpendingAllowanceSet", user=user, maxTickets=cap, validUntil=valid_until, nonce=0
            )
        )

    @rule(user=st.sampled_from(USERS), data=st.data())
    def request_withdrawal(self, user: str, data: st.DataObject) -> None:
        account = services.account_for(user)
        most = services.withdrawable(account)
        if most == 0:
            return
        amount = data.draw(st.integers(1, most))
        available_at = int(datetime.now(tz=UTC).timestamp()) + 3600
        mirror.record_withdrawal_requested(
            _event("WithdrawalRequested", user=user, amount=amount, availableAt=available_at)
        )

    @rule(user=st.sampled_from(USERS))
    def complete_withdrawal(self, user: str) -> None:
        account = services.account_for(user)
        if not account.withdrawal_requested:
            return
        # The withdrawal delay outlasts settlement: everything charged before is settled.
        while self._settle(succeed=True):
            pass
        paid = min(account.withdrawal_requested, self.onchain_deposit[user])
        mirror.record_withdrawal_completed(_event("WithdrawalCompleted", user=user, amount=paid))
        self.withdrawn[user] += paid
        self.onchain_deposit[user] -= paid

    # --- the platform's side -----------------------------------------------------------------

    @rule(user=st.sampled_from(USERS), price=st.integers(1, 8))
    def reserve(self, user: str, price: int) -> None:
        available = services.spendable(services.account_for(user))
        try:
            self.reserved.append(
                services.reserve_call(
                    address=user, model_hash=MODEL, price=price, provider=PROVIDER
                )
            )
        except errors.InsufficientTickets:
            assert price > available
        else:
            assert price <= available

    @precondition(lambda self: self.reserved)
    @rule(data=st.data(), charge=st.booleans())
    def finish(self, data: st.DataObject, charge: bool) -> None:
        reservation = self.reserved.pop(data.draw(st.integers(0, len(self.reserved) - 1)))
        if charge:
            services.charge_call(
                call_id=reservation.call_id, signed_receipt=receipt_for(reservation)
            )
        else:
            services.release_call(call_id=reservation.call_id, reason="failed")

    @rule(succeed=st.booleans())
    def settle(self, succeed: bool) -> None:
        self._settle(succeed=succeed)

    def _settle(self, *, succeed: bool) -> bool:
        batch = settlement.seal_batch()
        if batch is None:
            return False
        if not succeed:
            settlement.fail_batch(batch, "reverted")
            return True
        for user, amount in batch.debits:
            assert amount <= self.onchain_deposit[user]  # the escrow would revert otherwise
            self.onchain_deposit[user] -= amount
        mirror.record_batch_settled(
            _event(
                "BatchSettled",
                batch=batch.number,
                receiptsRoot=bytes.fromhex(batch.receipts_root[2:]),
                totalDebited=batch.total_debited,
                totalCredited=0,
                fee=batch.fee,
            )
        )
        self.next_batch += 1
        return True

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def balances_hold_and_tickets_are_conserved(self) -> None:
        for user in USERS:
            account = TicketAccount.objects.filter(address=user).first()
            if account is None:
                continue
            for figure in ("deposited", "reserved", "charged", "settled", "allowance_remaining"):
                assert getattr(account, figure) >= 0, figure
            calls = MeteredCall.objects.filter(account=account)
            reserved = calls.filter(status="reserved").aggregate(t=Sum("price"))["t"] or 0
            unsettled = (
                calls.filter(status="charged")
                .exclude(batch__status="settled")
                .aggregate(t=Sum("price"))["t"]
                or 0
            )
            assert (account.reserved, account.charged) == (reserved, unsettled)
            assert account.deposited == self.onchain_deposit[user]
            # Every ticket deposited is still there, settled, or withdrawn.
            assert self.deposits_in[user] == (
                account.deposited + account.settled + self.withdrawn[user]
            )
            # Never spend more than was deposited.
            spent = account.settled + account.charged + account.reserved
            assert spent <= self.deposits_in[user] - self.withdrawn[user]
        settled = TicketAccount.objects.aggregate(t=Sum("settled"))["t"] or 0
        credited = EscrowCredit.objects.aggregate(t=Sum("credited"))["t"] or 0
        assert settled == credited  # providers' credits plus the treasury's fee


@pytest.mark.django_db
def test_ledger_interleavings(monkeypatch):
    monkeypatch.setattr(ledger, "receipt_domain", lambda: DOMAIN)
    machine_state = {"number": 1}

    def terms(providers):
        settled = SettlementBatch.objects.filter(status="settled").count()
        machine_state["number"] = settled + 1
        return settlement._ChainTerms(
            next_batch=machine_state["number"], fee_bps=FEE_BPS, treasury=TREASURY,
            active=dict.fromkeys(providers, True),
        )  # fmt: skip

    monkeypatch.setattr(settlement, "_chain_terms", terms)
    LedgerMachine.TestCase.settings = settings(
        max_examples=40,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    LedgerMachine.TestCase().runTest()
