"""Property tests against the real node: random sequences of actions, each example on a
fresh snapshot of the deployed suite (reverted afterwards)."""

from contextlib import contextmanager

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synod_core.receipts import Receipt, sign_receipt
from tests.support.suite import DEV_KEYS, MODEL

pytestmark = pytest.mark.chain

EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
USERS = (4, 5, 6)
PROVIDERS = (7, 8)


@contextmanager
def rolled_back(suite):
    snapshot = suite.node.snapshot()
    try:
        yield
    finally:
        suite.node.revert(snapshot)


action = st.one_of(
    st.tuples(st.just("buy"), st.sampled_from(USERS), st.integers(1, 50)),
    st.tuples(st.just("deposit"), st.sampled_from(USERS), st.integers(1, 50)),
    st.tuples(
        st.just("settle"),
        st.lists(st.tuples(st.sampled_from(USERS), st.integers(0, 30)), min_size=1, max_size=3),
        st.sampled_from(PROVIDERS),
        st.integers(0, 5),  # a batch label: repeats on purpose
    ),
    st.tuples(st.just("claim"), st.sampled_from(PROVIDERS)),
    st.tuples(st.just("withdraw"), st.sampled_from(USERS), st.integers(1, 50)),
)


@EXAMPLES
@given(actions=st.lists(action, min_size=1, max_size=12))
def test_tickets_are_conserved_and_escrow_never_overpays(suite, actions):
    with rolled_back(suite):
        ticket, escrow = suite["PromptTicket"], suite["TicketEscrow"]
        t, e = ticket.functions, escrow.functions
        accounts = suite.accounts
        treasury = e.treasury().call()
        fee_bps = e.feeBps().call()
        delay = e.withdrawalDelay().call()
        paid_in = paid_out = 0
        settled: set[bytes] = set()
        for step in actions:
            kind = step[0]
            if kind == "buy":
                suite.buy_tickets(accounts[step[1]], step[2])
            elif kind == "deposit":
                user = accounts[step[1]]
                amount = min(step[2], t.balanceOf(user).call())
                if amount:
                    suite.approve(user, escrow.address, amount)
                    suite.send(e.deposit(amount), user)
                    paid_in += amount
            elif kind == "settle":
                _, lines, provider_index, label = step
                batch = keccak(text=f"batch-{label}")
                debits = [(accounts[u], a) for u, a in lines]
                total = sum(a for _, a in debits)
                fee = total * fee_bps // 10_000
                credits = [(accounts[provider_index], total - fee)]
                affordable = all(
                    sum(a for acct, a in debits if acct == user) <= e.deposits(user).call()
                    for user, _ in debits
                )
                call = e.settle(batch, debits, credits, fee)
                if batch in settled:
                    suite.reverts(call, suite.operator, "TicketEscrowBatchAlreadySettled")
                elif not affordable:
                    suite.reverts(call, suite.operator, "TicketEscrowInsufficientDeposit")
                else:
                    suite.send(call, suite.operator)
                    settled.add(batch)
                    paid_out += fee
            elif kind == "claim":
                provider = accounts[step[1]]
                credit = e.credits(provider).call()
                if credit:
                    suite.send(e.claim(), provider)
                    paid_out += credit
                else:
                    suite.reverts(e.claim(), provider, "TicketEscrowNothingToClaim")
            elif kind == "withdraw":
                user = accounts[step[1]]
                amount = min(step[2], e.deposits(user).call())
                if amount:
                    suite.send(e.requestWithdrawal(amount), user)
                    suite.increase_time(delay)
                    before = t.balanceOf(user).call()
                    suite.send(e.completeWithdrawal(), user)
                    paid_out += t.balanceOf(user).call() - before

            holders = {accounts[i] for i in USERS + PROVIDERS} | {treasury, escrow.address}
            assert t.totalSupply().call() == sum(t.balanceOf(h).call() for h in holders)
            owed = sum(e.deposits(accounts[i]).call() for i in USERS) + sum(
                e.credits(accounts[i]).call() for i in PROVIDERS
            )
            assert t.balanceOf(escrow.address).call() == owed
            assert paid_out <= paid_in
            assert paid_in - paid_out == owed
        for batch in settled:
            assert e.settled(batch).call()


@EXAMPLES
@given(
    council=st.sampled_from(["data", "model", "compute"]),
    holder_index=st.integers(0, 2),
    to_index=st.integers(0, 9),
    method=st.sampled_from(["transferFrom", "safeTransferFrom", "approve"]),
)
def test_a_badge_never_moves(suite, council, holder_index, to_index, method):
    with rolled_back(suite):
        badge = suite.badge(council)
        holder, to = suite.holders[holder_index], suite.accounts[to_index]
        token_id = badge.functions.tokenIdOf(holder).call()
        if method == "approve":
            call = badge.functions.approve(to, token_id)
        else:
            call = getattr(badge.functions, method)(holder, to, token_id)
        for sender in (holder, to, suite.timelock(council).address):
            suite.reverts(call, sender, "ExpertBadgeSoulbound")
        assert badge.functions.ownerOf(token_id).call() == holder
        assert badge.functions.getVotes(holder).call() == 1


@EXAMPLES
@given(
    job=st.binary(min_size=32, max_size=32),
    tickets=st.integers(0, 10**6),
    served_at=st.integers(0, 2**64 - 1),
    rogue=st.binary(min_size=32, max_size=32).filter(lambda b: b != MODEL),
)
def test_a_signed_receipt_slashes_once_and_never_for_an_approved_model(
    suite, approved_model, receipt_domain, job, tickets, served_at, rogue
):
    with rolled_back(suite):
        registry = suite["ProviderRegistry"]
        f = registry.functions
        provider = suite.accounts[7]
        stake = f.minStake().call()
        suite.buy_tickets(provider, stake)
        suite.approve(provider, registry.address, stake)
        suite.send(f.register(stake, "u", [MODEL]), provider)

        def receipt(model: bytes) -> Receipt:
            return Receipt(
                provider, model, job, keccak(job), keccak(b"o" + job), tickets, served_at
            )

        honest = receipt(MODEL)
        suite.reverts(
            f.slashWithReceipt(
                honest.as_tuple(), sign_receipt(honest, DEV_KEYS[7], receipt_domain)
            ),
            suite.accounts[9],
            "ProviderRegistryModelWasApproved",
        )
        fraud = receipt(rogue)
        signature = sign_receipt(fraud, DEV_KEYS[7], receipt_domain)
        suite.send(f.slashWithReceipt(fraud.as_tuple(), signature), suite.accounts[9])
        assert f.getProvider(provider).call()[1] == 0
        suite.reverts(
            f.slashWithReceipt(fraud.as_tuple(), signature),
            suite.accounts[9],
            "ProviderRegistryReceiptAlreadyUsed",
        )
