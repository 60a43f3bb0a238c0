"""The transaction sender against a real anvil node and the real test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from web3 import Web3

from synod.chain import bindings, services
from synod.chain.client import operator_account
from synod.chain.errors import ContractRevert
from synod.chain.models import NonceSequence, OutgoingTransaction
from synod.chain.sender import (
    BroadcastFailed,
    IdempotencyConflict,
    TransactionFailed,
    send_transaction,
)

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

REPO_DIR = Path(__file__).resolve().parents[2]
Status = OutgoingTransaction.Status


def _chain_nonce(w3: Web3) -> int:
    return w3.eth.get_transaction_count(operator_account().address, "pending")


def _buy(price: int, key: str, *, tickets: int = 1, **options) -> OutgoingTransaction:
    return send_transaction(
        idempotency_key=key,
        to=bindings.deployed("PromptTicket").address,
        data=bindings.encode_call("PromptTicket", "buy"),
        value=price * tickets,
        **options,
    )


def test_send_mines_and_records_the_outbox_row(chain, ticket, price):
    operator = operator_account().address
    nonce_before = _chain_nonce(chain.w3)

    outgoing = services.send_contract_call(
        contract="PromptTicket",
        function="buy",
        value=price * 2,
        idempotency_key="buy-two",
    )

    assert outgoing.status == Status.MINED
    assert outgoing.nonce == nonce_before
    assert outgoing.purpose == "PromptTicket.buy"
    assert ticket.functions.balanceOf(operator).call() == 2
    receipt = chain.w3.eth.get_transaction_receipt(outgoing.tx_hash)
    assert receipt["status"] == 1
    assert outgoing.block_number == receipt["blockNumber"]
    assert outgoing.gas_used == receipt["gasUsed"]
    # Gas limit = estimate x 1.3: comfortably above what was used, never below.
    assert receipt["gasUsed"] * 1.25 < outgoing.gas
    assert Web3.keccak(hexstr=outgoing.raw_transaction).hex() == outgoing.tx_hash[2:]
    assert NonceSequence.objects.get(address=operator).next_nonce == nonce_before + 1
    # Its one signed version so far; mined, but not final before enough blocks are on top.
    assert [a.tx_hash for a in outgoing.attempts.all()] == [outgoing.tx_hash]
    assert not outgoing.final


def test_the_same_idempotency_key_never_sends_twice(chain, ticket, price):
    nonce_before = _chain_nonce(chain.w3)
    first = _buy(price, "settle-batch-7")
    again = _buy(price, "settle-batch-7")

    assert again.pk == first.pk and again.tx_hash == first.tx_hash
    assert _chain_nonce(chain.w3) == nonce_before + 1
    assert ticket.functions.balanceOf(operator_account().address).call() == 1
    with pytest.raises(IdempotencyConflict):
        _buy(price, "settle-batch-7", tickets=2)


def test_a_revert_at_estimate_is_decoded_and_uses_no_nonce(chain, price):
    nonce_before = _chain_nonce(chain.w3)
    with pytest.raises(ContractRevert) as raised:
        send_transaction(
            idempotency_key="too-cheap",
            to=bindings.deployed("PromptTicket").address,
            data=bindings.encode_call("PromptTicket", "buy"),
            value=1,
        )
    assert raised.value.name == "PromptTicketPaymentTooSmall"
    assert raised.value.args == {"paid": 1, "price": price}
    assert not OutgoingTransaction.objects.exists()
    assert not NonceSequence.objects.exists()

    assert _buy(price, "right-price").nonce == nonce_before


def test_the_outbox_row_exists_before_broadcast_and_a_retry_resends_it(chain, price, rpc_proxy):
    rpc_proxy.broadcast = "refuse"
    with pytest.raises(BroadcastFailed):
        _buy(price, "relay-vote-1", w3=rpc_proxy.w3)

    saved = OutgoingTransaction.objects.get(idempotency_key="relay-vote-1")
    assert saved.status == Status.PENDING
    assert saved.broadcast_attempts == 1 and "502" in saved.last_error
    assert rpc_proxy.refused >= 1  # web3 itself retries the same bytes a few times
    assert chain.w3.eth.get_transaction_count(saved.sender, "pending") == saved.nonce

    rpc_proxy.broadcast = "forward"
    retried = _buy(price, "relay-vote-1", w3=rpc_proxy.w3)
    assert retried.status == Status.MINED
    assert (retried.pk, retried.nonce, retried.tx_hash) == (saved.pk, saved.nonce, saved.tx_hash)
    assert chain.w3.eth.get_transaction(saved.tx_hash)["nonce"] == saved.nonce


@pytest.mark.parametrize("automine", [True, False], ids=["mined-already", "in-mempool"])
def test_a_lost_broadcast_reply_is_not_a_second_transaction(chain, price, rpc_proxy, automine):
    """The node got the transaction but the reply was lost: the retry meets "nonce too low"
    (already mined) or "already known" (in the mempool), and both count as sent."""
    nonce_before = _chain_nonce(chain.w3)
    rpc_proxy.broadcast = "lose_reply"
    chain.rpc("evm_setAutomine", [automine])
    try:
        with pytest.raises(BroadcastFailed):
            _buy(price, "claim-42", w3=rpc_proxy.w3)
        rpc_proxy.broadcast = "forward"
        sent = _buy(price, "claim-42", w3=rpc_proxy.w3, wait=False)
        assert sent.status == Status.SENT
    finally:
        chain.rpc("evm_setAutomine", [True])
    if not automine:
        chain.mine()
    mined = _buy(price, "claim-42")
    assert mined.status == Status.MINED
    assert _chain_nonce(chain.w3) == nonce_before + 1


def test_resend_unfinished_pushes_a_stuck_transaction_through(chain, price, rpc_proxy):
    rpc_proxy.broadcast = "refuse"
    with pytest.raises(BroadcastFailed):
        _buy(price, "stuck", w3=rpc_proxy.w3)
    assert services.resend_unfinished() == 1
    outgoing = OutgoingTransaction.objects.get(idempotency_key="stuck")
    assert outgoing.status == Status.SENT
    services.resend_unfinished()  # its receipt is recorded on the next sweep
    outgoing.refresh_from_db()
    assert outgoing.status == Status.MINED


def test_a_transaction_that_reverts_when_mined_is_recorded_as_failed(chain, price):
    # A fixed gas limit skips the estimate, so the revert happens on chain.
    with pytest.raises(TransactionFailed) as raised:
        _buy(price // 2, "underpaid", gas=100_000)
    outgoing = raised.value.outgoing
    assert outgoing.status == Status.FAILED
    assert outgoing.revert_name == f"PromptTicketPaymentTooSmall(paid={price // 2}, price={price})"
    assert chain.w3.eth.get_transaction_receipt(outgoing.tx_hash)["status"] == 0
    with pytest.raises(TransactionFailed):  # asking again reports the same outcome
        _buy(price // 2, "underpaid", gas=100_000)


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_from_two_processes_get_contiguous_nonces(chain, ticket, price):
    operator = operator_account().address
    nonce_before = _chain_nonce(chain.w3)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "synod.config.settings.test",
        "DATABASE_URL": _database_url(),
        "CHAIN_RPC_URL": settings.CHAIN_RPC_URL,
        "PYTHONPATH": os.pathsep.join([str(REPO_DIR / "platform"), str(REPO_DIR)]),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("send_worker.py")), prefix, "10",
             ticket.address, str(price)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("web", "worker")
    ]  # fmt: skip
    nonces_by_worker = []
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err[-3000:]
        nonces_by_worker.append([int(n) for n in out.split()])
    assert [len(nonces) for nonces in nonces_by_worker] == [10, 10]

    rows = list(OutgoingTransaction.objects.filter(sender=operator).order_by("nonce"))
    assert len(rows) == 20
    assert [row.nonce for row in rows] == list(range(nonce_before, nonce_before + 20))
    assert {row.status for row in rows} == {Status.MINED}
    assert {row.idempotency_key.split("-")[0] for row in rows} == {"web", "worker"}
    assert _chain_nonce(chain.w3) == nonce_before + 20
    assert ticket.functions.balanceOf(operator).call() == 20
    assert NonceSequence.objects.get(address=operator).next_nonce == nonce_before + 20


@pytest.mark.django_db(transaction=True)
def test_a_send_finishing_while_the_node_is_asked_does_not_lend_out_its_nonce(
    chain, price, rpc_proxy
):
    """The node's pending nonce is read before the nonce lock is taken. A send of ours that
    starts and is mined in between makes that answer stale: the sequence must win."""

    def another_send_is_mined_meanwhile() -> None:
        try:
            assert _buy(price, "meanwhile").status == Status.MINED
        finally:
            connection.close()  # this runs in the proxy's thread

    nonce_before = _chain_nonce(chain.w3)
    rpc_proxy.after["eth_getTransactionCount"] = another_send_is_mined_meanwhile
    asked_first = _buy(price, "asked-first", w3=rpc_proxy.w3)

    meanwhile = OutgoingTransaction.objects.get(idempotency_key="meanwhile")
    assert not rpc_proxy.after  # the race did happen
    assert (meanwhile.nonce, asked_first.nonce) == (nonce_before, nonce_before + 1)
    assert asked_first.status == Status.MINED
    assert _chain_nonce(chain.w3) == nonce_before + 2


def test_a_contract_creation_records_the_new_address(chain, reverter_artifact):
    outgoing = send_transaction(
        idempotency_key="deploy-reverter", to=None, data=reverter_artifact["bytecode"]
    )
    assert outgoing.status == Status.MINED and outgoing.to == ""
    receipt = chain.w3.eth.get_transaction_receipt(outgoing.tx_hash)
    assert outgoing.contract_address == receipt["contractAddress"]
    assert len(chain.w3.eth.get_code(outgoing.contract_address)) > 0
