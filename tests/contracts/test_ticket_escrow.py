"""TicketEscrow: deposits, batch settlement, claims, delayed withdrawals, governance."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

from tests.contracts.test_prompt_ticket import permit_message
from tests.support.suite import DEV_KEYS

pytestmark = pytest.mark.chain

ZERO = "0x" + "00" * 20


def batch_id(label: str) -> bytes:
    return Web3.keccak(text=label)


def fund(suite, user: str, tickets: int) -> None:
    suite.buy_tickets(user, tickets)
    suite.approve(user, suite["TicketEscrow"].address, tickets)
    suite.send(suite["TicketEscrow"].functions.deposit(tickets), user)


def test_deposit_and_permit_deposit(suite):
    escrow = suite["TicketEscrow"]
    user = suite.accounts[5]
    suite.buy_tickets(user, 10)
    suite.approve(user, escrow.address, 4)
    receipt = suite.send(escrow.functions.deposit(4), user)
    (event,) = escrow.events.Deposited().process_receipt(receipt)
    assert (event.args.user, event.args.amount, event.args.newDeposit) == (user, 4, 4)
    suite.reverts(escrow.functions.deposit(0), user, "TicketEscrowZeroAmount")
    suite.reverts(escrow.functions.deposit(7), user, "ERC20InsufficientAllowance")

    owner = Account.from_key(DEV_KEYS[5])
    assert owner.address == user
    deadline = suite.w3.eth.get_block("latest")["timestamp"] + 600
    nonce = suite["PromptTicket"].functions.nonces(user).call()
    signed = Account.sign_message(
        encode_typed_data(
            full_message=permit_message(suite, user, escrow.address, 6, nonce, deadline)
        ),
        owner.key,
    )
    suite.send(
        escrow.functions.depositWithPermit(
            6, deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
        ),
        user,
    )
    assert escrow.functions.deposits(user).call() == 10
    assert suite["PromptTicket"].functions.balanceOf(escrow.address).call() == 10


def test_settle_moves_deposits_to_credits_and_fee_to_treasury(suite):
    escrow, ticket = suite["TicketEscrow"], suite["PromptTicket"]
    alice, bob = suite.accounts[5], suite.accounts[6]
    provider_a, provider_b = suite.accounts[7], suite.accounts[8]
    fund(suite, alice, 100)
    fund(suite, bob, 100)
    fee_bps = escrow.functions.feeBps().call()
    debits = [(alice, 80), (bob, 40)]
    fee = 120 * fee_bps // 10_000
    credits = [(provider_a, 60), (provider_b, 120 - 60 - fee)]
    treasury = escrow.functions.treasury().call()
    assert treasury == suite.timelock("compute").address
    receipt = suite.send(
        escrow.functions.settle(batch_id("b1"), debits, credits, fee), suite.operator
    )
    (event,) = escrow.events.BatchSettled().process_receipt(receipt)
    assert (event.args.totalDebited, event.args.totalCredited, event.args.fee) == (
        120,
        120 - fee,
        fee,
    )
    assert escrow.functions.deposits(alice).call() == 20
    assert escrow.functions.deposits(bob).call() == 60
    assert escrow.functions.credits(provider_a).call() == 60
    assert ticket.functions.balanceOf(treasury).call() == fee
    assert escrow.functions.settled(batch_id("b1")).call()

    receipt = suite.send(escrow.functions.claim(), provider_a)
    assert escrow.events.Claimed().process_receipt(receipt)[0].args.amount == 60
    assert ticket.functions.balanceOf(provider_a).call() == 60
    suite.reverts(escrow.functions.claim(), provider_a, "TicketEscrowNothingToClaim")


def test_settle_reverts(suite):
    escrow = suite["TicketEscrow"]
    alice, provider = suite.accounts[5], suite.accounts[7]
    fund(suite, alice, 100)
    op = suite.operator
    f = escrow.functions
    assert f.feeBps().call() == 250
    args = suite.reverts(
        f.settle(batch_id("x"), [(alice, 40)], [(provider, 39)], 1),
        alice,
        "TicketEscrowNotOperator",
    )
    assert args == (alice,)
    suite.reverts(f.settle(batch_id("x"), [], [], 0), op, "TicketEscrowEmptyBatch")
    args = suite.reverts(
        f.settle(batch_id("x"), [(alice, 101)], [(provider, 99)], 2),
        op,
        "TicketEscrowInsufficientDeposit",
    )
    assert args == (alice, 100, 101)
    # The same user twice: the second line sees what the first left.
    suite.reverts(
        f.settle(batch_id("x"), [(alice, 60), (alice, 60)], [(provider, 117)], 3),
        op,
        "TicketEscrowInsufficientDeposit",
    )
    assert suite.reverts(
        f.settle(batch_id("x"), [(alice, 40)], [(provider, 40)], 1),
        op,
        "TicketEscrowUnbalancedBatch",
    ) == (40, 40, 1)
    assert suite.reverts(
        f.settle(batch_id("x"), [(alice, 40)], [(provider, 38)], 2), op, "TicketEscrowWrongFee"
    ) == (1, 2)
    suite.reverts(
        f.settle(batch_id("x"), [(alice, 40)], [(ZERO, 39)], 1), op, "TicketEscrowZeroAddress"
    )
    suite.send(f.settle(batch_id("x"), [(alice, 40)], [(provider, 39)], 1), op)
    assert suite.reverts(
        f.settle(batch_id("x"), [(alice, 4)], [(provider, 4)], 0),
        op,
        "TicketEscrowBatchAlreadySettled",
    ) == (batch_id("x"),)


def test_withdrawal_waits_for_the_delay_and_yields_to_settlement(suite):
    escrow, ticket = suite["TicketEscrow"], suite["PromptTicket"]
    alice, provider = suite.accounts[5], suite.accounts[7]
    fund(suite, alice, 100)
    f = escrow.functions
    suite.reverts(f.completeWithdrawal(), alice, "TicketEscrowNoWithdrawalRequested")
    suite.reverts(f.requestWithdrawal(0), alice, "TicketEscrowZeroAmount")
    suite.reverts(f.requestWithdrawal(101), alice, "TicketEscrowInsufficientDeposit")
    receipt = suite.send(f.requestWithdrawal(90), alice)
    (requested,) = escrow.events.WithdrawalRequested().process_receipt(receipt)
    delay = f.withdrawalDelay().call()
    block_time = suite.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert requested.args.availableAt == block_time + delay
    suite.reverts(f.completeWithdrawal(), alice, "TicketEscrowWithdrawalNotReady")
    # Usage incurred before the request still settles during the delay.
    suite.send(f.settle(batch_id("late"), [(alice, 40)], [(provider, 39)], 1), suite.operator)
    suite.increase_time(delay)
    receipt = suite.send(f.completeWithdrawal(), alice)
    assert escrow.events.WithdrawalCompleted().process_receipt(receipt)[0].args.amount == 60
    assert f.deposits(alice).call() == 0
    assert ticket.functions.balanceOf(alice).call() == 60
    suite.reverts(f.completeWithdrawal(), alice, "TicketEscrowNoWithdrawalRequested")


def test_governance_parameters(suite):
    escrow = suite["TicketEscrow"]
    f = escrow.functions
    timelock = suite.timelock("compute").address
    for call in (
        f.setOperator(suite.accounts[6]),
        f.setFeeBps(1),
        f.setWithdrawalDelay(120),
        f.setTreasury(suite.accounts[6]),
    ):
        suite.reverts(call, suite.operator, "OwnableUnauthorizedAccount")
    receipt = suite.as_timelock("compute", f.setOperator(suite.accounts[6]))
    (changed,) = escrow.events.OperatorChanged().process_receipt(receipt)
    assert (changed.args.previousOperator, changed.args.newOperator) == (
        suite.operator,
        suite.accounts[6],
    )
    suite.as_timelock("compute", f.setFeeBps(1_000))
    assert f.feeBps().call() == 1_000
    suite.reverts(f.setFeeBps(1_001), timelock, "TicketEscrowFeeTooHigh")
    suite.as_timelock("compute", f.setWithdrawalDelay(120))
    assert f.withdrawalDelay().call() == 120
    suite.reverts(f.setWithdrawalDelay(59), timelock, "TicketEscrowDelayOutOfBounds")
    suite.reverts(f.setWithdrawalDelay(31 * 86400), timelock, "TicketEscrowDelayOutOfBounds")
    suite.reverts(f.setOperator(ZERO), timelock, "TicketEscrowZeroAddress")
    suite.reverts(f.setTreasury(ZERO), timelock, "TicketEscrowZeroAddress")
    suite.as_timelock("compute", f.setTreasury(suite.accounts[6]))
    assert f.treasury().call() == suite.accounts[6]
    # The old operator is out.
    suite.reverts(
        f.settle(batch_id("o"), [(suite.accounts[5], 0)], [], 0),
        suite.operator,
        "TicketEscrowNotOperator",
    )
