"""Property tests against the real node: random sequences of actions, each example on a
fresh snapshot of the deployed suite (reverted afterwards)."""

from contextlib import contextmanager

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, event, given, settings
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


DAY = 86_400
ROOT = keccak(text="receipts")


START_DEPOSIT, START_ALLOWANCE = 40, 60


@pytest.fixture
def active_providers(suite, approved_model) -> list[str]:
    """The providers registered and the users funded once per test (each example rolls back
    to this state): every user deposited START_DEPOSIT and allowed START_ALLOWANCE."""
    providers = [suite.accounts[i] for i in PROVIDERS]
    for provider in providers:
        suite.register_provider(provider, [approved_model])
    for user in USERS:
        suite.deposit(suite.accounts[user], START_DEPOSIT)
        suite.allow_spending(suite.accounts[user], START_ALLOWANCE, seconds=DAY)
    return providers


settle_action = st.tuples(
    st.just("settle"),
    st.lists(st.tuples(st.sampled_from(USERS), st.integers(0, 30)), min_size=1, max_size=3),
    st.sampled_from(PROVIDERS),
    st.sampled_from([False, False, False, True]),  # replay the last batch number instead
)
action = st.one_of(
    # Settling is what is under test: a third of the actions.
    *[settle_action] * 4,
    st.tuples(st.just("buy"), st.sampled_from(USERS), st.integers(1, 50)),
    st.tuples(st.just("deposit"), st.sampled_from(USERS), st.integers(1, 50)),
    st.tuples(st.just("allow"), st.sampled_from(USERS), st.integers(0, 60)),
    # Deposit and allow spending in one step, so that many examples settle something.
    st.tuples(st.just("fund"), st.sampled_from(USERS), st.integers(1, 50), st.integers(0, 60)),
    st.tuples(st.just("claim"), st.sampled_from([*PROVIDERS, "treasury"])),
    st.tuples(st.just("withdraw"), st.sampled_from(USERS), st.integers(1, 50)),
    st.tuples(st.just("expire")),
)


def expected_error(lines, accounts: dict) -> str | None:
    """The error a settlement of `lines` reverts with, line by line as the contract checks:
    deposit, then the allowance's expiry, then what is left of it."""
    left = {user: dict(account) for user, account in accounts.items()}
    for user, amount in lines:
        account = left[user]
        if amount > account["deposit"]:
            return "TicketEscrowInsufficientDeposit"
        if account["expired"]:
            return "TicketEscrowAllowanceExpired"
        if amount > account["remaining"]:
            return "TicketEscrowAllowanceExceeded"
        account["deposit"] -= amount
        account["remaining"] -= amount
    return None


@EXAMPLES
@given(actions=st.lists(action, min_size=1, max_size=12))
def test_tickets_are_conserved_and_escrow_never_overpays(suite, active_providers, actions):
    with rolled_back(suite):
        ticket, escrow = suite["PromptTicket"], suite["TicketEscrow"]
        t, e = ticket.functions, escrow.functions
        accounts = suite.accounts
        treasury = e.treasury().call()
        fee_bps = e.feeBps().call()
        delay = e.withdrawalDelay().call()
        # The fixture funded each user: START_DEPOSIT, spending allowed up to START_ALLOWANCE.
        paid_in, paid_out = START_DEPOSIT * len(USERS), 0
        batches = 0
        # What the contract should hold per user; `expired`: the allowance is from before an
        # "expire" step.
        model = {
            accounts[i]: {"deposit": START_DEPOSIT, "remaining": START_ALLOWANCE, "expired": False}
            for i in USERS
        }
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
                    model[user]["deposit"] += amount
            elif kind == "fund":
                _, index, tickets, allowance = step
                user = accounts[index]
                suite.deposit(user, tickets)
                suite.allow_spending(user, allowance, seconds=DAY)
                paid_in += tickets
                model[user].update(remaining=allowance, expired=False)
                model[user]["deposit"] += tickets
            elif kind == "allow":
                user = accounts[step[1]]
                suite.allow_spending(user, step[2], seconds=DAY)
                model[user].update(remaining=step[2], expired=False)
            elif kind == "expire":
                suite.increase_time(DAY + 1)
                for account in model.values():
                    account["expired"] = True
            elif kind == "settle":
                _, lines, provider_index, replay = step
                debits = [(accounts[u], a) for u, a in lines]
                total = sum(a for _, a in debits)
                fee = total * fee_bps // 10_000
                credits = [(accounts[provider_index], total - fee)]
                batch = batches if replay else batches + 1
                call = e.settle(batch, ROOT, debits, credits, fee)
                error = expected_error(debits, model)
                event(f"settle: {'replayed' if replay else error or 'settled'}")
                if replay:
                    suite.reverts(call, suite.settler, "TicketEscrowBatchOutOfOrder")
                elif error:
                    suite.reverts(call, suite.settler, error)
                else:
                    suite.send(call, suite.settler)
                    batches += 1
                    for user, amount in debits:
                        model[user]["deposit"] -= amount
                        model[user]["remaining"] -= amount
            elif kind == "claim":
                claimant = treasury if step[1] == "treasury" else accounts[step[1]]
                credit = e.credits(claimant).call()
                if credit:
                    suite.send(e.claim(), claimant)
                    paid_out += credit
                else:
                    suite.reverts(e.claim(), claimant, "TicketEscrowNothingToClaim")
            elif kind == "withdraw":
                user = accounts[step[1]]
                amount = min(step[2], e.deposits(user).call())
                if amount:
                    suite.send(e.requestWithdrawal(amount), user)
                    suite.increase_time(delay)
                    before = t.balanceOf(user).call()
                    suite.send(e.completeWithdrawal(), user)
                    paid_out += t.balanceOf(user).call() - before
                    model[user]["deposit"] -= amount

            holders = {accounts[i] for i in USERS + PROVIDERS} | {
                treasury,
                escrow.address,
                suite["ProviderRegistry"].address,
            }
            assert t.totalSupply().call() == sum(t.balanceOf(h).call() for h in holders)
            owed = sum(e.deposits(user).call() for user in model) + sum(
                e.credits(c).call() for c in [*active_providers, treasury]
            )
            assert t.balanceOf(escrow.address).call() == owed
            assert paid_out <= paid_in
            assert paid_in - paid_out == owed
            for user, account in model.items():
                assert e.deposits(user).call() == account["deposit"]
                assert e.spendingAllowance(user).call()[0] == account["remaining"]
        assert e.nextBatch().call() == batches + 1


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
