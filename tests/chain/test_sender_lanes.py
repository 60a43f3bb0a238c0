"""The sender's lanes, fee replacements and reorg re-checks (issue 11): a settlement stuck
below the going fee never holds back a relayed vote, it is replaced at a higher fee with the
same nonce, every signed version is kept (any may be mined), and a mined transaction whose
block a reorg dropped is sent again and final only under enough blocks.

A transaction is made stuck on anvil the way it happens on a real chain: it is signed at
the going fee, and the base fee jumps far above it before a block takes it. (anvil then
drops it from its pool and refuses it again until the base fee falls; a node that keeps
underpriced transactions holds it unmined. Either way it has no receipt.)"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from synod.chain import bindings, services
from synod.chain import tasks as chain_tasks
from synod.chain.client import operator_account, settlement_account
from synod.chain.devnode import DevNode
from synod.chain.models import NonceSequence, OutgoingAttempt, OutgoingTransaction
from synod.chain.selectors import outgoing_transaction_by_hash
from synod.chain.sender import (
    BroadcastFailed,
    Fees,
    RecheckResult,
    bumped_fee,
    current_fees,
    drive,
    recheck_mined,
    replace_if_stuck,
    replacement_fees,
    send_transaction,
)

Status = OutgoingTransaction.Status
# How far above a stuck transaction's max fee the base fee jumps: it stays above it for
# about 20 blocks (the base fee falls by at most 1/8 per block).
FEE_SPIKE = 20


# --- The fee arithmetic ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "bumped"),
    [
        (0, 1),  # 0 x 1.125 is 0: a replacement must still pay more
        (1, 2),
        (8, 9),
        (9, 11),  # 10.125 rounds up
        (10**9, 1_125_000_000),
        (3_000_000_001, 3_375_000_002),  # 3_375_000_001.125 rounds up
        (2**255 + 1, (2**255 + 1) * 9 // 8 + 1),  # exact for uint256 fees, no floats
    ],
)
def test_a_bumped_fee_is_an_eighth_more_rounded_up(fee, bumped):
    assert bumped_fee(fee) == bumped
    assert bumped_fee(fee) * 10 >= fee * 11  # nodes want at least +10 %


def test_a_replacement_takes_the_higher_of_the_going_fee_and_the_bump_on_both_fees():
    old = Fees(max_fee_per_gas=3_000, max_priority_fee_per_gas=1_000)
    # The going fee is far higher: it wins on both.
    assert replacement_fees(old, Fees(50_000, 2_000)) == Fees(50_000, 2_000)
    # The going max fee is higher, its tip is not: each fee is decided on its own.
    assert replacement_fees(old, Fees(50_000, 1_000)) == Fees(50_000, 1_125)
    # The going fee fell meanwhile: still +12.5 % on both, or the node refuses it.
    assert replacement_fees(old, Fees(2_000, 500)) == Fees(3_375, 1_125)
    # A chain without EIP-1559: one gas price, bumped the same way.
    legacy = Fees(1_000, 1_000, legacy=True)
    assert replacement_fees(legacy, Fees(1_050, 1_050, legacy=True)) == Fees(
        1_125, 1_125, legacy=True
    )


def test_a_replacement_tip_never_exceeds_its_max_fee():
    for old_max in (0, 1, 7, 1_000, 10**9, 3 * 10**9 + 1):
        for old_tip in {0, old_max // 3, old_max}:
            for going_max in (1, old_max // 2, old_max, 2 * old_max + 5, 10**12):
                for going_tip in {0, going_max // 2, going_max}:
                    new = replacement_fees(Fees(old_max, old_tip), Fees(going_max, going_tip))
                    assert new.max_priority_fee_per_gas <= new.max_fee_per_gas
                    assert new.max_fee_per_gas >= max(going_max, old_max + 1)
                    assert new.max_priority_fee_per_gas >= max(going_tip, old_tip + 1)


# --- Replacement decisions, on saved rows (no node) --------------------------------------------


def _saved_row(
    account: LocalAccount, *, fees: Fees, key: str = "settle-7", age_s: float = 60
) -> OutgoingTransaction:
    """An outbox row as the sender saves it, signed `age_s` seconds ago."""
    to = Web3.to_checksum_address("0x" + "11" * 20)
    tx = {
        "chainId": 31337, "nonce": 41, "gas": 90_000, "value": 5, "data": "0xc0ffee",
        "to": to, "maxFeePerGas": fees.max_fee_per_gas,
        "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
    }  # fmt: skip
    signed = account.sign_transaction(tx)
    row = OutgoingTransaction.objects.create(
        chain_id=31337, idempotency_key=key, purpose="settlement", sender=account.address,
        nonce=41, to=to, data="0xc0ffee", value_wei="5", gas=90_000,
        max_fee_per_gas=fees.max_fee_per_gas,
        max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
        raw_transaction=Web3.to_hex(signed.raw_transaction), tx_hash=Web3.to_hex(signed.hash),
        status=Status.SENT,
    )  # fmt: skip
    attempt = OutgoingAttempt.objects.create(
        outgoing=row, chain_id=31337, tx_hash=row.tx_hash, raw_transaction=row.raw_transaction,
        max_fee_per_gas=row.max_fee_per_gas,
        max_priority_fee_per_gas=row.max_priority_fee_per_gas,
    )  # fmt: skip
    signed_at = timezone.now() - timedelta(seconds=age_s)
    OutgoingAttempt.objects.filter(pk=attempt.pk).update(created_at=signed_at)
    OutgoingTransaction.objects.filter(pk=row.pk).update(created_at=signed_at)
    row.refresh_from_db()
    return row


def _decoded(raw: str) -> dict:
    return TypedTransaction.from_bytes(HexBytes(raw)).as_dict()


@pytest.mark.django_db
def test_a_stuck_row_is_re_signed_with_the_same_nonce_call_and_gas(settings):
    settings.CHAIN_SENDER_REPLACE_AFTER_S = 30
    account = settlement_account()
    row = _saved_row(account, fees=Fees(3_000, 1_000))
    first_hash, first_raw = row.tx_hash, row.raw_transaction

    replaced = replace_if_stuck(row, Fees(50_000, 1_000))

    assert replaced.tx_hash != first_hash and replaced.status == Status.SENT
    assert (replaced.max_fee_per_gas, replaced.max_priority_fee_per_gas) == (50_000, 1_125)
    before, after = _decoded(first_raw), _decoded(replaced.raw_transaction)
    changed = {k for k in after if after[k] != before[k]}
    assert changed <= {"maxFeePerGas", "maxPriorityFeePerGas", "v", "r", "s"}
    assert (after["maxFeePerGas"], after["maxPriorityFeePerGas"]) == (50_000, 1_125)
    assert Account.recover_transaction(replaced.raw_transaction) == account.address
    assert Web3.keccak(hexstr=replaced.raw_transaction).hex() == replaced.tx_hash[2:]
    attempts = list(replaced.attempts.order_by("created_at", "pk"))
    assert [a.tx_hash for a in attempts] == [first_hash, replaced.tx_hash]
    assert [a.max_fee_per_gas for a in attempts] == [3_000, 50_000]
    assert not NonceSequence.objects.exists()  # a replacement draws no nonce

    # Right after a replacement it is young again: the next pass waits.
    assert replace_if_stuck(replaced, Fees(90_000, 5_000)).tx_hash == replaced.tx_hash


@pytest.mark.django_db
def test_only_a_row_both_old_enough_and_below_the_going_fee_is_replaced(settings):
    settings.CHAIN_SENDER_REPLACE_AFTER_S = 30
    account = settlement_account()
    young = _saved_row(account, fees=Fees(3_000, 1_000), key="young", age_s=5)
    assert replace_if_stuck(young, Fees(50_000, 2_000)).tx_hash == young.tx_hash
    young.delete()

    paid_enough = _saved_row(account, fees=Fees(3_000, 1_000), key="paid-enough")
    assert replace_if_stuck(paid_enough, Fees(3_000, 1_000)).tx_hash == paid_enough.tx_hash
    # A tip below the going tip is enough to count as stuck.
    first_hash = paid_enough.tx_hash
    assert replace_if_stuck(paid_enough, Fees(3_000, 1_001)).tx_hash != first_hash


@pytest.mark.django_db
def test_a_row_is_left_alone_without_its_key_or_once_it_changed(settings):
    settings.CHAIN_SENDER_REPLACE_AFTER_S = 0
    row = _saved_row(settlement_account(), fees=Fees(3_000, 1_000))
    going = Fees(50_000, 2_000)
    # No configured key signs for this sender: logged, nothing re-signed.
    assert replace_if_stuck(row, going, accounts={}).tx_hash == row.tx_hash

    stale = OutgoingTransaction.objects.get(pk=row.pk)
    replaced = replace_if_stuck(row, going)
    # Another process replaced it meanwhile: the stale copy is not replaced a second time.
    assert replace_if_stuck(stale, going).tx_hash == replaced.tx_hash
    assert row.attempts.count() == 2

    OutgoingTransaction.objects.filter(pk=row.pk).update(status=Status.MINED)
    mined = OutgoingTransaction.objects.get(pk=row.pk)
    assert replace_if_stuck(mined, Fees(10**6, 10**5)).tx_hash == replaced.tx_hash


# --- On anvil: the lanes, replacements, reorgs -----------------------------------------------


def _buy(price: int, key: str, **options) -> OutgoingTransaction:
    return send_transaction(
        idempotency_key=key,
        to=bindings.deployed("PromptTicket").address,
        data=bindings.encode_call("PromptTicket", "buy"),
        value=price,
        **options,
    )


@pytest.fixture
def base_fee_restored(chain: DevNode) -> Iterator[None]:
    """anvil keeps the base fee it will give the next block across `evm_revert`: after a fee
    spike, the next test would sign at the fee of its (reverted) head and be refused. The
    next base fee goes back to what it was before the test."""
    next_base_fee = chain.w3.eth.get_block("pending")["baseFeePerGas"]
    yield
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(next_base_fee)])


def _stuck_send(chain: DevNode, price: int, key: str, **options) -> OutgoingTransaction:
    """A send signed at the going fee that the base fee then leaves far behind, unmined."""
    chain.rpc("evm_setAutomine", [False])
    try:
        outgoing = _buy(price, key, account=settlement_account(), purpose="settlement",
                        wait=False, **options)  # fmt: skip
        chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(FEE_SPIKE * outgoing.max_fee_per_gas)])
    finally:
        chain.rpc("evm_setAutomine", [True])
    chain.mine()
    assert chain.w3.eth.get_block("latest")["baseFeePerGas"] > outgoing.max_fee_per_gas
    assert not _mined(chain.w3, outgoing.tx_hash)
    return outgoing


def _mined(w3: Web3, tx_hash: str) -> bool:
    try:
        w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return False
    return True


def _ticket_balance(chain: DevNode, address: str) -> int:
    return bindings.contract("PromptTicket", w3=chain.w3).functions.balanceOf(address).call()


def _copy(outgoing: OutgoingTransaction) -> OutgoingTransaction:
    """A caller's own copy of a row as it was (the sender refreshes the copy it is given)."""
    return copy.copy(outgoing)


def _attempt_hashes(outgoing: OutgoingTransaction) -> list[str]:
    return list(outgoing.attempts.order_by("created_at", "pk").values_list("tx_hash", flat=True))


@pytest.mark.chain
@pytest.mark.django_db
def test_a_stuck_settlement_never_holds_back_a_vote_and_its_replacement_mines(
    chain, price, settings, base_fee_restored, node_guard
):
    settings.CHAIN_SENDER_REPLACE_AFTER_S = 30
    settlement, operator = settlement_account().address, operator_account().address
    stuck = _stuck_send(chain, price, "settle-batch-1")
    assert stuck.status == Status.SENT and stuck.sender == settlement

    # The vote lane is another key, another nonce sequence: its send mines at once.
    vote = _buy(price, "relay-vote-1", purpose="relayed vote", timeout=15)
    assert vote.status == Status.MINED and vote.sender == operator
    assert not _mined(chain.w3, stuck.tx_hash)  # the settlement is still stuck
    assert _ticket_balance(chain, settlement) == 0

    # Not stuck for long enough yet: the pass only sends the same bytes again (which anvil
    # refuses while the base fee is above them).
    services.resend_unfinished()
    assert _attempt_hashes(OutgoingTransaction.objects.get(pk=stuck.pk)) == [stuck.tx_hash]

    settings.CHAIN_SENDER_REPLACE_AFTER_S = 0
    going = current_fees(chain.w3)
    assert going.max_fee_per_gas > stuck.max_fee_per_gas
    assert services.resend_unfinished() == 1
    replaced = OutgoingTransaction.objects.get(pk=stuck.pk)
    assert replaced.tx_hash != stuck.tx_hash and replaced.nonce == stuck.nonce
    assert replaced.max_fee_per_gas >= max(going.max_fee_per_gas, stuck.max_fee_per_gas * 1.125)
    assert replaced.max_priority_fee_per_gas >= max(
        going.max_priority_fee_per_gas, stuck.max_priority_fee_per_gas * 1.125
    )

    # A caller still holding the first version sees the replacement mined.
    first_hash = stuck.tx_hash
    mined = drive(_copy(stuck), timeout=15)
    assert mined.status == Status.MINED
    assert mined.tx_hash == replaced.tx_hash
    assert _attempt_hashes(mined) == [first_hash, replaced.tx_hash]
    on_chain = chain.w3.eth.get_transaction(mined.tx_hash)
    assert on_chain["blockNumber"] == mined.block_number
    assert (on_chain["from"], on_chain["nonce"], on_chain["to"], on_chain["value"],
            on_chain["gas"], Web3.to_hex(on_chain["input"])) == (
        settlement, stuck.nonce, stuck.to, stuck.value, stuck.gas, stuck.data
    )  # fmt: skip
    assert on_chain["maxFeePerGas"] == mined.max_fee_per_gas
    with pytest.raises(TransactionNotFound):  # the first version is gone for good
        chain.w3.eth.get_transaction(stuck.tx_hash)
    assert _ticket_balance(chain, settlement) == 1  # it did what it did, once
    assert chain.w3.eth.get_transaction_count(settlement) == stuck.nonce + 1
    # Whichever version a mined event names, the outbox row is found.
    assert outgoing_transaction_by_hash(stuck.tx_hash).pk == stuck.pk
    assert outgoing_transaction_by_hash(mined.tx_hash).pk == stuck.pk


@pytest.mark.chain
@pytest.mark.django_db
def test_an_earlier_version_mined_after_all_is_the_one_recorded(
    chain, price, settings, rpc_proxy, base_fee_restored
):
    stuck = _stuck_send(chain, price, "settle-batch-2")
    settings.CHAIN_SENDER_REPLACE_AFTER_S = 0
    rpc_proxy.broadcast = "refuse"
    assert services.resend_unfinished(w3=rpc_proxy.w3) == 0  # replaced, not broadcast
    replaced = OutgoingTransaction.objects.get(pk=stuck.pk)
    assert replaced.status == Status.SENT and replaced.tx_hash != stuck.tx_hash

    # The spike passes before the replacement reaches a node, and a node that kept the
    # first version in its pool mines it.
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(1)])
    chain.mine()
    chain.w3.eth.send_raw_transaction(stuck.raw_transaction)
    mined = drive(_copy(replaced), timeout=15)

    assert mined.status == Status.MINED
    assert (mined.tx_hash, mined.raw_transaction, mined.max_fee_per_gas) == (
        stuck.tx_hash, stuck.raw_transaction, stuck.max_fee_per_gas
    )  # fmt: skip
    assert chain.w3.eth.get_transaction_receipt(stuck.tx_hash)["blockNumber"] == mined.block_number
    assert _attempt_hashes(mined) == [stuck.tx_hash, replaced.tx_hash]


@pytest.mark.chain
@pytest.mark.django_db
def test_a_pending_send_refused_as_underpriced_is_replaced(
    chain, price, settings, rpc_proxy, base_fee_restored
):
    rpc_proxy.broadcast = "refuse"
    with pytest.raises(BroadcastFailed):
        _buy(price, "settle-batch-3", account=settlement_account(), w3=rpc_proxy.w3)
    pending = OutgoingTransaction.objects.get(idempotency_key="settle-batch-3")
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(FEE_SPIKE * pending.max_fee_per_gas)])
    chain.mine()

    settings.CHAIN_SENDER_REPLACE_AFTER_S = 3600
    assert services.resend_unfinished() == 0  # the node refuses it: below the base fee
    pending.refresh_from_db()
    assert pending.status == Status.PENDING and "base fee" in pending.last_error

    settings.CHAIN_SENDER_REPLACE_AFTER_S = 0
    assert services.resend_unfinished() == 1
    mined = drive(OutgoingTransaction.objects.get(pk=pending.pk), timeout=15)
    assert mined.status == Status.MINED and mined.nonce == pending.nonce
    assert _attempt_hashes(mined) == [pending.tx_hash, mined.tx_hash]


@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_a_caller_awaiting_the_receipt_sees_the_replacement_mined(
    chain, price, settings, base_fee_restored
):
    stuck = _stuck_send(chain, price, "settle-batch-4")
    outcome: dict = {}

    def await_it() -> None:
        try:
            outcome["row"] = drive(OutgoingTransaction.objects.get(pk=stuck.pk), timeout=30)
        except BaseException as exc:  # surfaced by the assertions below
            outcome["error"] = exc
        finally:
            connection.close()

    waiter = threading.Thread(target=await_it)
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive()  # waiting for the first version
    settings.CHAIN_SENDER_REPLACE_AFTER_S = 0
    services.resend_unfinished()
    waiter.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    mined = outcome["row"]
    assert mined.status == Status.MINED and mined.tx_hash != stuck.tx_hash
    assert _attempt_hashes(mined) == [stuck.tx_hash, mined.tx_hash]


def _reorg_out(chain: DevNode, block_number: int) -> None:
    """Replace the chain from `block_number` on with new, empty blocks of the same height."""
    head = chain.w3.eth.block_number
    chain.rpc("anvil_reorg", [head - block_number + 1, []])
    assert chain.w3.eth.block_number == head


@pytest.mark.chain
@pytest.mark.django_db
def test_a_mined_send_dropped_by_a_reorg_is_sent_again_and_final_only_when_deep(
    chain, price, settings, node_guard
):
    settings.CHAIN_SENDER_CONFIRMATIONS = 3
    mined = _buy(price, "settle-batch-5", account=settlement_account(), timeout=15)
    assert mined.status == Status.MINED and not mined.final
    assert recheck_mined() == RecheckResult(final=0, reorged=0)  # too recent to be final

    chain.mine()
    _reorg_out(chain, mined.block_number)
    assert chain.w3.eth.get_block(mined.block_number)["hash"].hex() != mined.block_hash[2:]

    assert recheck_mined() == RecheckResult(final=0, reorged=1)
    resent = OutgoingTransaction.objects.get(pk=mined.pk)
    assert resent.status == Status.SENT and resent.in_flight
    assert (resent.block_number, resent.block_hash, resent.reorgs) == (None, "", 1)
    assert "reorg" in resent.last_error
    assert resent.tx_hash == mined.tx_hash  # the same bytes, broadcast again

    again = drive(_copy(resent), timeout=15)
    assert again.status == Status.MINED and again.tx_hash == mined.tx_hash
    assert again.block_hash != mined.block_hash
    assert (
        chain.w3.eth.get_transaction_receipt(again.tx_hash)["blockHash"].hex()
        == (again.block_hash[2:])
    )
    assert _ticket_balance(chain, again.sender) == 1

    chain.mine(settings.CHAIN_SENDER_CONFIRMATIONS - 1)
    assert recheck_mined() == RecheckResult(final=0, reorged=0)
    assert not OutgoingTransaction.objects.get(pk=mined.pk).final
    chain.mine()
    chain_tasks.resend_unfinished_transactions.apply().get()  # what beat runs
    final = OutgoingTransaction.objects.get(pk=mined.pk)
    assert final.final and final.status == Status.MINED and final.block_hash == again.block_hash
    assert recheck_mined() == RecheckResult()  # final rows are not looked at again


@pytest.mark.chain
@pytest.mark.django_db
def test_a_send_a_reorg_moved_to_another_block_is_recorded_there_without_a_resend(
    chain, price, settings, rpc_proxy
):
    mined = _buy(price, "settle-batch-6", account=settlement_account(), timeout=15)
    _reorg_out(chain, mined.block_number)
    # Another node had it in its pool and mined it again on the new branch.
    chain.w3.eth.send_raw_transaction(mined.raw_transaction)
    moved = chain.w3.eth.wait_for_transaction_receipt(mined.tx_hash, timeout=15)

    rpc_proxy.broadcast = "refuse"  # a broadcast would fail: none is needed
    assert recheck_mined(w3=rpc_proxy.w3) == RecheckResult(final=0, reorged=1)
    row = OutgoingTransaction.objects.get(pk=mined.pk)
    assert rpc_proxy.refused == 0
    assert row.status == Status.MINED and row.reorgs == 1
    assert (row.block_number, row.block_hash) == (
        moved["blockNumber"], Web3.to_hex(moved["blockHash"])
    )  # fmt: skip
