"""TicketEscrow: deposits, wallet-signed spending allowances (EOA and ERC-1271), numbered
batch settlement with a receipts root to active providers, the fee credited to the treasury,
claims, delayed withdrawals, two-step ownership and governance."""

import pytest
import solcx
from django.conf import settings
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from web3 import Web3

from synod.chain.compiler import load_artifact
from synod.chain.typed_data import spending_allowance
from tests.contracts.test_prompt_ticket import permit_message
from tests.support.suite import DEV_KEYS

pytestmark = pytest.mark.chain

ZERO = "0x" + "00" * 20
ROOT = keccak(text="receipts root")
DAY = 86_400
# Accounts: 5 and 6 users, 7 and 8 providers (registered by the `providers` fixture).
ALICE, BOB, PROVIDER_A, PROVIDER_B = 5, 6, 7, 8
ERC1271_MAGIC = "0x1626ba7e"

WALLET_SOURCE = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A minimal ERC-1271 contract wallet: valid signatures are its owner's, over the hash.
contract OwnedWallet {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        if (signature.length != 65) return 0xffffffff;
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        return ecrecover(hash, v, r, s) == owner ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
}
"""


@pytest.fixture
def providers(suite, approved_model) -> tuple[str, str]:
    """Two active providers (minimum stake, the approved model)."""
    a, b = suite.accounts[PROVIDER_A], suite.accounts[PROVIDER_B]
    suite.register_provider(a, [approved_model])
    suite.register_provider(b, [approved_model])
    return a, b


def fund(suite, user: str, tickets: int, allowance: int | None = None) -> None:
    """Deposit `tickets` and allow spending them all (or `allowance`) for a day."""
    suite.deposit(user, tickets)
    suite.allow_spending(user, tickets if allowance is None else allowance)


def next_batch(suite) -> int:
    return suite["TicketEscrow"].functions.nextBatch().call()


def settle(suite, debits, credits, fee, *, root: bytes = ROOT) -> dict:
    escrow = suite["TicketEscrow"]
    call = escrow.functions.settle(next_batch(suite), root, debits, credits, fee)
    return suite.send(call, suite.settler)


def assert_conserved(suite, users, providers) -> None:
    """The escrow's invariant: balance == deposits + unclaimed credits (treasury's included)."""
    escrow, ticket = suite["TicketEscrow"], suite["PromptTicket"]
    f = escrow.functions
    owed = sum(f.deposits(u).call() for u in users)
    owed += sum(f.credits(p).call() for p in {*providers, f.treasury().call()})
    assert ticket.functions.balanceOf(escrow.address).call() == owed


def test_interface_constants_and_domain(suite):
    f = suite["TicketEscrow"].functions
    assert f.SPENDING_ALLOWANCE_TYPEHASH().call() == keccak(
        text="SpendingAllowance(address user,uint256 maxTickets,uint256 validUntil,uint256 nonce)"
    )
    _fields, name, version, chain_id, verifying, _salt, _ext = f.eip712Domain().call()
    assert (name, version, chain_id) == ("Synod TicketEscrow", "1", suite.w3.eth.chain_id)
    assert verifying == suite["TicketEscrow"].address
    assert f.MAX_SETTLEMENT_DELAY().call() == 3600
    assert f.MIN_WITHDRAWAL_DELAY().call() == f.MAX_SETTLEMENT_DELAY().call()
    assert f.MAX_WITHDRAWAL_DELAY().call() == 30 * DAY
    assert f.nextBatch().call() == 1
    assert f.providerRegistry().call() == suite["ProviderRegistry"].address
    assert f.operator().call() == suite.settler
    assert f.spendingAllowance(suite.accounts[ALICE]).call() == [0, 0]


def test_deposit_and_permit_deposit(suite):
    escrow = suite["TicketEscrow"]
    user = suite.accounts[ALICE]
    suite.buy_tickets(user, 10)
    suite.approve(user, escrow.address, 4)
    receipt = suite.send(escrow.functions.deposit(4), user)
    (event,) = escrow.events.Deposited().process_receipt(receipt)
    assert (event.args.user, event.args.amount, event.args.newDeposit) == (user, 4, 4)
    suite.reverts(escrow.functions.deposit(0), user, "TicketEscrowZeroAmount")
    suite.reverts(escrow.functions.deposit(7), user, "ERC20InsufficientAllowance")

    owner = Account.from_key(DEV_KEYS[ALICE])
    assert owner.address == user
    deadline = suite.now() + 600
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


def test_a_deposit_keeps_the_allowance_and_the_allowance_keeps_the_deposit(suite):
    f = suite["TicketEscrow"].functions
    user = suite.accounts[ALICE]
    suite.deposit(user, 30)
    receipt = suite.allow_spending(user, 12)
    until = suite.now() + DAY - 1  # allow_spending's `now` was the block before
    assert f.spendingAllowance(user).call()[0] == 12
    (event,) = suite["TicketEscrow"].events.SpendingAllowanceSet().process_receipt(receipt)
    assert (event.args.user, event.args.maxTickets, event.args.nonce) == (user, 12, 0)
    assert abs(event.args.validUntil - until) <= 1
    suite.deposit(user, 5)
    assert f.deposits(user).call() == 35
    assert f.spendingAllowance(user).call() == [12, event.args.validUntil]


def test_settle_debits_credits_providers_and_credits_the_fee_to_the_treasury(suite, providers):
    escrow, ticket = suite["TicketEscrow"], suite["PromptTicket"]
    f = escrow.functions
    alice, bob = suite.accounts[ALICE], suite.accounts[BOB]
    provider_a, provider_b = providers
    fund(suite, alice, 100, allowance=90)
    fund(suite, bob, 100)
    fee_bps = f.feeBps().call()
    fee = 120 * fee_bps // 10_000
    assert fee == 3
    credits = [(provider_a, 60), (provider_b, 120 - 60 - fee)]
    treasury = f.treasury().call()
    assert treasury == suite.timelock("compute").address
    assert f.nextBatch().call() == 1

    receipt = settle(suite, [(alice, 80), (bob, 40)], credits, fee)
    (event,) = escrow.events.BatchSettled().process_receipt(receipt)
    assert (event.args.batch, event.args.receiptsRoot) == (1, ROOT)
    assert (event.args.totalDebited, event.args.totalCredited, event.args.fee) == (
        120,
        120 - fee,
        fee,
    )
    # batch and root are indexed: the verifier filters the log by them.
    assert receipt["logs"][0]["topics"][1] == (1).to_bytes(32, "big")
    assert receipt["logs"][0]["topics"][2] == ROOT
    assert f.nextBatch().call() == 2
    assert f.deposits(alice).call() == 20
    assert f.deposits(bob).call() == 60
    assert f.spendingAllowance(alice).call()[0] == 10
    assert f.spendingAllowance(bob).call()[0] == 60
    assert f.credits(provider_a).call() == 60
    assert f.credits(treasury).call() == fee
    # The fee is credited, not transferred.
    assert ticket.functions.balanceOf(treasury).call() == 0
    assert_conserved(suite, [alice, bob], providers)

    receipt = suite.send(f.claim(), provider_a)
    assert escrow.events.Claimed().process_receipt(receipt)[0].args.amount == 60
    assert ticket.functions.balanceOf(provider_a).call() == 60
    suite.reverts(f.claim(), provider_a, "TicketEscrowNothingToClaim")
    # The treasury (the compute timelock) claims its fees like a provider.
    suite.as_timelock("compute", f.claim())
    assert ticket.functions.balanceOf(treasury).call() == fee
    assert f.credits(treasury).call() == 0
    assert_conserved(suite, [alice, bob], providers)


def test_settle_reverts(suite, providers):
    escrow = suite["TicketEscrow"]
    f = escrow.functions
    alice, bob = suite.accounts[ALICE], suite.accounts[BOB]
    provider, _ = providers
    fund(suite, alice, 100)
    op = suite.settler
    assert f.feeBps().call() == 250

    def reverts(batch, debits, credits, fee, error, *, root=ROOT, sender=op):
        return suite.reverts(f.settle(batch, root, debits, credits, fee), sender, error)

    good = ([(alice, 40)], [(provider, 39)], 1)
    assert reverts(1, *good, "TicketEscrowNotOperator", sender=alice) == (alice,)
    # The deploying operator key is not the settlement key.
    reverts(1, *good, "TicketEscrowNotOperator", sender=suite.operator)
    assert reverts(2, *good, "TicketEscrowBatchOutOfOrder") == (1, 2)
    assert reverts(0, *good, "TicketEscrowBatchOutOfOrder") == (1, 0)
    reverts(1, *good, "TicketEscrowEmptyReceiptsRoot", root=b"\0" * 32)
    reverts(1, [], [], 0, "TicketEscrowEmptyBatch")
    args = reverts(1, [(alice, 101)], [(provider, 99)], 2, "TicketEscrowInsufficientDeposit")
    assert args == (alice, 100, 101)
    # The same user twice: the second line sees what the first left.
    reverts(1, [(alice, 60), (alice, 60)], [(provider, 117)], 3, "TicketEscrowInsufficientDeposit")
    assert reverts(1, [(alice, 40)], [(provider, 40)], 1, "TicketEscrowUnbalancedBatch") == (
        40,
        40,
        1,
    )
    assert reverts(1, [(alice, 40)], [(provider, 38)], 2, "TicketEscrowWrongFee") == (1, 2)
    reverts(1, [(alice, 40)], [(ZERO, 39)], 1, "TicketEscrowZeroAddress")
    # A deposit without an allowance cannot be debited.
    suite.deposit(bob, 50)
    assert reverts(1, [(bob, 4)], [(provider, 4)], 0, "TicketEscrowAllowanceExpired") == (
        bob,
        0,
    )

    suite.send(f.settle(1, ROOT, *good), op)
    # A replayed batch is out of order now.
    assert reverts(1, *good, "TicketEscrowBatchOutOfOrder") == (2, 1)
    suite.send(f.settle(2, ROOT, *good), op)


def test_only_active_providers_are_credited(suite, providers):
    f = suite["TicketEscrow"].functions
    alice = suite.accounts[ALICE]
    provider, _ = providers
    stranger = suite.accounts[9]
    fund(suite, alice, 100)

    def reverts_for(who):
        return suite.reverts(
            f.settle(1, ROOT, [(alice, 40)], [(who, 39)], 1),
            suite.settler,
            "TicketEscrowProviderNotActive",
        )

    assert reverts_for(stranger) == (stranger,)  # never registered
    # A provider unbonding its whole stake is no longer active.
    registry = suite["ProviderRegistry"].functions
    suite.send(registry.requestUnbond(registry.minStake().call()), provider)
    assert not registry.isActive(provider).call()
    assert reverts_for(provider) == (provider,)
    # Slashed below the minimum stake: inactive too.
    _, other = providers
    suite.as_timelock("compute", registry.slash(other, 1, "late"))
    assert reverts_for(other) == (other,)


def test_the_allowance_caps_and_expires(suite, providers):
    f = suite["TicketEscrow"].functions
    alice = suite.accounts[ALICE]
    provider, _ = providers
    suite.deposit(alice, 100)
    suite.allow_spending(alice, 30, seconds=2 * 3600)
    _, valid_until = f.spendingAllowance(alice).call()
    args = suite.reverts(
        f.settle(1, ROOT, [(alice, 31)], [(provider, 31)], 0),
        suite.settler,
        "TicketEscrowAllowanceExceeded",
    )
    assert args == (alice, 30, 31)
    settle(suite, [(alice, 20)], [(provider, 20)], 0)
    assert f.spendingAllowance(alice).call() == [10, valid_until]
    # Split over lines, the allowance is still one budget.
    args = suite.reverts(
        f.settle(2, ROOT, [(alice, 6), (alice, 6)], [(provider, 12)], 0),
        suite.settler,
        "TicketEscrowAllowanceExceeded",
    )
    assert args == (alice, 4, 6)
    suite.increase_time(valid_until - suite.now() + 1)
    args = suite.reverts(
        f.settle(2, ROOT, [(alice, 1)], [(provider, 1)], 0),
        suite.settler,
        "TicketEscrowAllowanceExpired",
    )
    assert args == (alice, valid_until)
    # A new allowance replaces the old one: it does not add to what was left.
    suite.allow_spending(alice, 5)
    assert f.spendingAllowance(alice).call()[0] == 5
    settle(suite, [(alice, 5)], [(provider, 5)], 0)
    assert f.deposits(alice).call() == 75


def test_a_signed_allowance_is_relayed_once(suite, providers):
    escrow = suite["TicketEscrow"]
    f = escrow.functions
    key = DEV_KEYS[ALICE]
    alice = suite.accounts[ALICE]
    relayer = suite.accounts[4]
    provider, _ = providers
    suite.deposit(alice, 100)
    until = suite.now() + DAY
    signature = suite.allowance_signature(key, 50, until)
    receipt = suite.send(f.setSpendingAllowance(alice, 50, until, signature), relayer)
    (event,) = escrow.events.SpendingAllowanceSet().process_receipt(receipt)
    assert tuple(event.args.values()) == (alice, 50, until, 0)
    assert f.nonces(alice).call() == 1
    assert f.spendingAllowance(alice).call() == [50, until]

    # The same signature again: its nonce is used.
    args = suite.reverts(
        f.setSpendingAllowance(alice, 50, until, signature),
        relayer,
        "TicketEscrowInvalidAllowanceSignature",
    )
    assert args == (alice,)
    # A settlement above the signed allowance reverts.
    suite.reverts(
        f.settle(1, ROOT, [(alice, 51)], [(provider, 50)], 1),
        suite.settler,
        "TicketEscrowAllowanceExceeded",
    )
    # Not the user's key, or other terms than signed.
    fresh = suite.allowance_signature(key, 50, until)
    bobs = Account.sign_message(
        encode_typed_data(
            full_message=spending_allowance(
                escrow, user=alice, max_tickets=50, valid_until=until, nonce=1
            )
        ),
        DEV_KEYS[BOB],
    ).signature
    for user, max_tickets, valid_until, sig in (
        (alice, 50, until, bobs),
        (alice, 51, until, fresh),
        (alice, 50, until + 1, fresh),
        (suite.accounts[BOB], 50, until, fresh),
        (alice, 50, until, fresh[:64]),
    ):
        suite.reverts(
            f.setSpendingAllowance(user, max_tickets, valid_until, sig),
            relayer,
            "TicketEscrowInvalidAllowanceSignature",
        )
    suite.send(f.setSpendingAllowance(alice, 50, until, fresh), relayer)
    assert f.nonces(alice).call() == 2


def test_allowance_terms_are_bounded(suite):
    f = suite["TicketEscrow"].functions
    alice = suite.accounts[ALICE]
    now = suite.now()
    for valid_until in (0, now, 2**48):
        args = suite.reverts(
            f.approveSpending(1, valid_until), alice, "TicketEscrowAllowanceExpiryInvalid"
        )
        assert args == (valid_until,)
        signature = suite.allowance_signature(DEV_KEYS[ALICE], 1, valid_until)
        suite.reverts(
            f.setSpendingAllowance(alice, 1, valid_until, signature),
            alice,
            "TicketEscrowAllowanceExpiryInvalid",
        )
    assert suite.reverts(
        f.approveSpending(2**80, now + DAY), alice, "TicketEscrowAllowanceTooLarge"
    ) == (2**80,)
    suite.send(f.approveSpending(2**80 - 1, 2**48 - 1), alice)
    assert f.spendingAllowance(alice).call() == [2**80 - 1, 2**48 - 1]
    # Revoking: an allowance of 0.
    suite.send(f.approveSpending(0, now + DAY), alice)
    assert f.spendingAllowance(alice).call()[0] == 0


def test_approve_spending_invalidates_an_outstanding_signature(suite):
    f = suite["TicketEscrow"].functions
    alice = suite.accounts[ALICE]
    until = suite.now() + DAY
    withheld = suite.allowance_signature(DEV_KEYS[ALICE], 1_000, until)
    receipt = suite.send(f.approveSpending(10, until), alice)
    event = suite["TicketEscrow"].events.SpendingAllowanceSet().process_receipt(receipt)[0]
    assert (event.args.maxTickets, event.args.nonce) == (10, 0)
    assert f.nonces(alice).call() == 1
    suite.reverts(
        f.setSpendingAllowance(alice, 1_000, until, withheld),
        suite.accounts[4],
        "TicketEscrowInvalidAllowanceSignature",
    )
    assert f.spendingAllowance(alice).call() == [10, until]


@pytest.fixture(scope="module")
def wallet_artifact() -> dict:
    output = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {"OwnedWallet.sol": {"content": WALLET_SOURCE}},
            "settings": {
                "evmVersion": "cancun",
                "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
            },
        },
        solc_binary=settings.SOLC_BINARY,
    )
    compiled = output["contracts"]["OwnedWallet.sol"]["OwnedWallet"]
    return {"abi": compiled["abi"], "bytecode": "0x" + compiled["evm"]["bytecode"]["object"]}


def test_a_contract_wallet_signs_with_erc1271(suite, providers, wallet_artifact):
    escrow = suite["TicketEscrow"]
    f = escrow.functions
    owner = Account.from_key(DEV_KEYS[ALICE])
    factory = suite.w3.eth.contract(
        abi=wallet_artifact["abi"], bytecode=wallet_artifact["bytecode"]
    )
    wallet = suite.send(factory.constructor(owner.address), owner.address)["contractAddress"]
    wallet = Web3.to_checksum_address(wallet)
    deployed = suite.w3.eth.contract(address=wallet, abi=wallet_artifact["abi"])
    suite.deposit(wallet, 40)  # sent as the wallet (impersonated)

    until = suite.now() + DAY
    message = spending_allowance(escrow, user=wallet, max_tickets=25, valid_until=until, nonce=0)
    signable = encode_typed_data(full_message=message)
    signature = Account.sign_message(signable, owner.key).signature
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert Web3.to_hex(deployed.functions.isValidSignature(digest, signature).call()) == (
        ERC1271_MAGIC
    )
    suite.send(f.setSpendingAllowance(wallet, 25, until, signature), suite.accounts[4])
    assert f.spendingAllowance(wallet).call() == [25, until]
    provider, _ = providers
    settle(suite, [(wallet, 20)], [(provider, 20)], 0)
    assert f.deposits(wallet).call() == 20
    # Another key's signature is not the wallet's.
    stranger = Account.sign_message(
        encode_typed_data(
            full_message=spending_allowance(
                escrow, user=wallet, max_tickets=25, valid_until=until, nonce=1
            )
        ),
        DEV_KEYS[BOB],
    ).signature
    suite.reverts(
        f.setSpendingAllowance(wallet, 25, until, stranger),
        suite.accounts[4],
        "TicketEscrowInvalidAllowanceSignature",
    )


def test_withdrawal_waits_for_the_delay_and_yields_to_settlement(suite, providers):
    escrow, ticket = suite["TicketEscrow"], suite["PromptTicket"]
    alice = suite.accounts[ALICE]
    provider, _ = providers
    fund(suite, alice, 100)
    f = escrow.functions
    suite.reverts(f.completeWithdrawal(), alice, "TicketEscrowNoWithdrawalRequested")
    suite.reverts(f.requestWithdrawal(0), alice, "TicketEscrowZeroAmount")
    suite.reverts(f.requestWithdrawal(101), alice, "TicketEscrowInsufficientDeposit")
    receipt = suite.send(f.requestWithdrawal(90), alice)
    (requested,) = escrow.events.WithdrawalRequested().process_receipt(receipt)
    delay = f.withdrawalDelay().call()
    assert delay >= f.MAX_SETTLEMENT_DELAY().call()
    block_time = suite.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert requested.args.availableAt == block_time + delay
    suite.reverts(f.completeWithdrawal(), alice, "TicketEscrowWithdrawalNotReady")
    # Usage incurred before the request still settles during the delay.
    settle(suite, [(alice, 40)], [(provider, 39)], 1)
    suite.increase_time(delay)
    receipt = suite.send(f.completeWithdrawal(), alice)
    assert escrow.events.WithdrawalCompleted().process_receipt(receipt)[0].args.amount == 60
    assert f.deposits(alice).call() == 0
    # The withdrawal leaves the allowance as it was.
    assert f.spendingAllowance(alice).call()[0] == 60
    assert ticket.functions.balanceOf(alice).call() == 60
    suite.reverts(f.completeWithdrawal(), alice, "TicketEscrowNoWithdrawalRequested")
    assert_conserved(suite, [alice], providers)


def test_governance_parameters(suite):
    escrow = suite["TicketEscrow"]
    f = escrow.functions
    timelock = suite.timelock("compute").address
    for call in (
        f.setOperator(suite.accounts[6]),
        f.setFeeBps(1),
        f.setWithdrawalDelay(7200),
        f.setTreasury(suite.accounts[6]),
        f.transferOwnership(suite.accounts[6]),
    ):
        suite.reverts(call, suite.settler, "OwnableUnauthorizedAccount")
    receipt = suite.as_timelock("compute", f.setOperator(suite.accounts[6]))
    (changed,) = escrow.events.OperatorChanged().process_receipt(receipt)
    assert (changed.args.previousOperator, changed.args.newOperator) == (
        suite.settler,
        suite.accounts[6],
    )
    suite.as_timelock("compute", f.setFeeBps(1_000))
    assert f.feeBps().call() == 1_000
    suite.reverts(f.setFeeBps(1_001), timelock, "TicketEscrowFeeTooHigh")
    # The delay never drops below the longest settlement may take.
    assert suite.reverts(f.setWithdrawalDelay(3599), timelock, "TicketEscrowDelayOutOfBounds") == (
        3599,
    )
    suite.reverts(f.setWithdrawalDelay(60), timelock, "TicketEscrowDelayOutOfBounds")
    suite.reverts(f.setWithdrawalDelay(31 * DAY), timelock, "TicketEscrowDelayOutOfBounds")
    suite.as_timelock("compute", f.setWithdrawalDelay(3600))
    assert f.withdrawalDelay().call() == 3600
    suite.as_timelock("compute", f.setWithdrawalDelay(30 * DAY))
    suite.reverts(f.setOperator(ZERO), timelock, "TicketEscrowZeroAddress")
    suite.reverts(f.setTreasury(ZERO), timelock, "TicketEscrowZeroAddress")
    suite.as_timelock("compute", f.setTreasury(suite.accounts[6]))
    assert f.treasury().call() == suite.accounts[6]
    assert f.nextBatch().call() == 1  # shares the treasury's slot, untouched
    # The old operator is out.
    suite.reverts(
        f.settle(1, ROOT, [(suite.accounts[5], 0)], [], 0),
        suite.settler,
        "TicketEscrowNotOperator",
    )


def test_ownership_moves_in_two_steps(suite):
    f = suite["TicketEscrow"].functions
    timelock = suite.timelock("compute").address
    successor = suite.accounts[6]
    suite.as_timelock("compute", f.transferOwnership(successor))
    assert f.owner().call() == timelock
    assert f.pendingOwner().call() == successor
    assert suite.reverts(f.acceptOwnership(), suite.accounts[5], "OwnableUnauthorizedAccount") == (
        suite.accounts[5],
    )
    suite.send(f.acceptOwnership(), successor)
    assert f.owner().call() == successor
    assert f.pendingOwner().call() == ZERO
    suite.reverts(f.setFeeBps(1), timelock, "OwnableUnauthorizedAccount")
    suite.send(f.setFeeBps(1), successor)


def test_the_constructor_refuses_bad_parameters(suite):
    artifact = load_artifact("TicketEscrow")
    factory = suite.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    good = [
        suite["PromptTicket"].address,
        suite["ProviderRegistry"].address,
        suite.timelock("compute").address,
        suite.settler,
        suite.timelock("compute").address,
        250,
        3600,
    ]
    deployer = suite.accounts[0]
    for index in (0, 1, 3, 4):
        args = [*good]
        args[index] = ZERO
        suite.reverts(factory.constructor(*args), deployer, "TicketEscrowZeroAddress")
    suite.reverts(factory.constructor(*good[:5], 1_001, 3600), deployer, "TicketEscrowFeeTooHigh")
    suite.reverts(factory.constructor(*good[:6], 3599), deployer, "TicketEscrowDelayOutOfBounds")
    suite.reverts(factory.constructor(*good[:2], ZERO, *good[3:]), deployer, "OwnableInvalidOwner")
    suite.send(factory.constructor(*good), deployer)
