"""The money path on anvil: buy, deposit, sign an allowance, charge calls, settle with a
receipts root, verify a receipt proof with the command, claim, withdraw; and a crash at each
settlement step, then a rerun, settles every call exactly once."""

from __future__ import annotations

import json
import time

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from synod.chain import selectors as chain_selectors
from synod.chain import services as chain_services
from synod.chain.sender import drive
from synod.tickets import selectors, services
from synod.tickets.models import MeteredCall, SettlementBatch, TicketAccount
from synod.tickets.services import settlement
from synod_core import settlement_proofs
from synod_core.receipts import Receipt, SignedReceipt, sign_receipt
from tests.contracts.conftest import approved_model  # noqa: F401 (a fixture)
from tests.support.suite import Suite

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

USER_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"  # dev account 4
PROVIDER_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"  # 5
USER = Account.from_key(USER_KEY).address
PROVIDER = Account.from_key(PROVIDER_KEY).address
PRICE = 2


def _index() -> None:
    chain_services.index_chain()


def _sign_allowance(max_tickets: int, valid_until: int) -> str:
    typed = selectors.allowance_typed_data(USER, max_tickets, valid_until)
    signed = Account.sign_message(encode_typed_data(full_message=typed), USER_KEY)
    return "0x" + signed.signature.hex()


@pytest.fixture
def funded(suite: Suite, approved_model: bytes) -> bytes:  # noqa: F811
    """The user holds 40 tickets in the escrow and signed an allowance of 30 (relayed by the
    platform); the provider is staked and registered for the approved model."""
    suite.deposit(USER, 40)
    valid_until = suite.now() + 30 * 86_400
    outgoing = services.submit_spending_allowance(
        address=USER, max_tickets=30, valid_until=valid_until,
        signature=_sign_allowance(30, valid_until),
    )  # fmt: skip
    # anvil mines right after it takes a transaction, but its receipt may lag a moment.
    assert drive(outgoing, timeout=15).status == "mined"
    suite.register_provider(PROVIDER, [approved_model])
    _index()
    return approved_model


def _serve(model: bytes, count: int) -> list[MeteredCall]:
    """`count` calls reserved, served by the provider and charged on its signed receipt."""
    domain = services.receipt_domain()
    calls = []
    for _ in range(count):
        reservation = services.reserve_call(
            address=USER, model_hash="0x" + model.hex(), price=PRICE, provider=PROVIDER
        )
        receipt = Receipt(
            provider=PROVIDER, model_hash=model, job_id=reservation.job_id,
            request_hash=b"\x01" * 32, output_hash=b"\x02" * 32, tickets_charged=PRICE,
            served_at=int(time.time()),
        )  # fmt: skip
        signed = SignedReceipt(receipt, sign_receipt(receipt, PROVIDER_KEY, domain))
        calls.append(
            services.charge_call(call_id=reservation.call_id, signed_receipt=signed.as_json())
        )
    return calls


def _settle_to_the_end() -> None:
    """What the beat does: settlement runs, the sender records receipts, the indexer runs."""
    for _ in range(6):
        services.run_settlement()
        _await_open_batch()
        _index()
        if (
            not services.open_batch()
            and not MeteredCall.objects.filter(status="charged", batch__isnull=True).exists()
        ):
            return
    raise AssertionError("settlement did not finish")


def _await_open_batch() -> None:
    """Wait for the open batch's transaction to be mined, as the sender's beat would see it
    (anvil mines at once, but a receipt asked for right away may not be there yet)."""
    batch = services.open_batch()
    outgoing = batch and chain_selectors.outgoing_transaction(batch.outgoing_key)
    if outgoing and outgoing.in_flight:
        drive(outgoing, timeout=15)


def _assert_settled_once(suite: Suite, calls: list[MeteredCall], deposit_before: int) -> None:
    escrow = suite["TicketEscrow"].functions
    settled = SettlementBatch.objects.filter(status="settled")
    for call in calls:
        call.refresh_from_db()
        assert call.batch is not None and call.batch.status == "settled", call
    assert settled.count() == escrow.nextBatch().call() - 1
    account = TicketAccount.objects.get(address=USER)
    charged_total = PRICE * len(calls)
    assert escrow.deposits(USER).call() == account.deposited == deposit_before - charged_total
    assert account.charged == account.reserved == 0 and account.settled == charged_total
    remaining, _ = escrow.spendingAllowance(USER).call()
    assert remaining == account.allowance_remaining == 30 - charged_total


def test_buy_deposit_charge_settle_verify_claim_withdraw(suite, funded, tmp_path, settings):
    calls = _serve(funded, 5)
    summary = selectors.ticket_summary(USER)
    assert (summary.deposited, summary.spent, summary.available) == (40, 10, 20)

    _settle_to_the_end()
    _assert_settled_once(suite, calls, deposit_before=40)
    batch = SettlementBatch.objects.get(status="settled")
    assert batch.call_count == 5 and batch.debits == [[USER, 10]]
    fee = 10 * suite["TicketEscrow"].functions.feeBps().call() // 10_000
    assert batch.credits == [[PROVIDER, 10 - fee]] and batch.fee == fee

    # The user's proofs verify against the root in the chain's log, with nothing else.
    bundle = selectors.proof_bundle(USER, batch.number)
    path = tmp_path / "proofs.json"
    path.write_text(json.dumps(bundle))
    assert settlement_proofs.main([str(path), "--rpc", settings.CHAIN_RPC_URL]) == 0
    bundle["receipts"][0]["proof"] = ["0x" + "00" * 32, *bundle["receipts"][0]["proof"][1:]]
    bundle["receipts"][1]["signed_receipt"]["receipt"]["tickets_charged"] = "1"
    path.write_text(json.dumps(bundle))
    assert settlement_proofs.main([str(path), "--rpc", settings.CHAIN_RPC_URL]) == 1

    # The provider claims its credit; the ledger mirrors it.
    escrow = suite["TicketEscrow"]
    suite.send(escrow.functions.claim(), PROVIDER)
    _index()
    earnings = selectors.provider_earnings(PROVIDER)
    assert (earnings.credited_total, earnings.claimed_total, earnings.claimable) == (
        10 - fee, 10 - fee, 0,
    )  # fmt: skip

    # Withdraw the unspent deposit after the delay; the ledger follows to the ticket.
    withdrawable = selectors.ticket_summary(USER).withdrawable
    assert withdrawable == 30
    suite.send(escrow.functions.requestWithdrawal(withdrawable), USER)
    _index()
    assert selectors.ticket_summary(USER).withdrawal_pending == 30
    assert selectors.ticket_summary(USER).available == 0
    suite.increase_time(escrow.functions.withdrawalDelay().call() + 1)
    suite.send(escrow.functions.completeWithdrawal(), USER)
    _index()
    summary = selectors.ticket_summary(USER)
    assert summary.deposited == escrow.functions.deposits(USER).call() == 0
    assert summary.withdrawal_pending == 0
    assert summary.wallet == suite["PromptTicket"].functions.balanceOf(USER).call() == 30


class Crash(Exception):
    pass


def _crash_once(monkeypatch, target, name: str, *, after: bool = False) -> None:
    real = getattr(target, name)
    state = {"crashed": False}

    def crashing(*args, **kwargs):
        if state["crashed"]:
            return real(*args, **kwargs)
        state["crashed"] = True
        if after:
            real(*args, **kwargs)
        raise Crash(f"crash {'after' if after else 'before'} {name}")

    monkeypatch.setattr(target, name, crashing)


@pytest.mark.parametrize(
    "step",
    [
        "after sealing, before sending",
        "after the outbox row is saved, before broadcast",
        "after broadcast, before the batch is marked sent",
        "after mining, before indexing",
    ],
)
def test_a_crash_at_each_settlement_step_settles_every_call_once(suite, funded, monkeypatch, step):
    from synod.chain import sender

    calls = _serve(funded, 3)
    if step == "after sealing, before sending":
        _crash_once(monkeypatch, settlement, "send_batch")
    elif step == "after the outbox row is saved, before broadcast":
        _crash_once(monkeypatch, sender, "drive")
    elif step == "after broadcast, before the batch is marked sent":
        _crash_once(monkeypatch, settlement.chain_services, "send_contract_call", after=True)
    if step != "after mining, before indexing":
        with pytest.raises(Crash):
            services.run_settlement()
    else:
        services.run_settlement()
        _await_open_batch()
        services.run_settlement()  # follows the mined batch; nothing is sent again
    assert SettlementBatch.objects.exclude(status="failed").count() == 1
    _settle_to_the_end()
    _assert_settled_once(suite, calls, deposit_before=40)
    assert SettlementBatch.objects.count() == 1
    services.run_settlement()  # a rerun after everything settled does nothing
    assert suite["TicketEscrow"].functions.nextBatch().call() == 2


def test_a_refused_settlement_returns_its_calls_and_the_next_batch_takes_the_number(suite, funded):
    calls = _serve(funded, 2)
    batch = settlement.seal_batch()
    # The user lowers the allowance straight from the wallet before the batch goes out: the
    # escrow refuses the batch (the operator can never take more than was signed for).
    suite.allow_spending(USER, 1)
    run = settlement.advance_batch(batch)
    assert run.action == "failed"
    batch.refresh_from_db()
    assert batch.status == "failed" and "AllowanceExceeded" in batch.error
    assert not MeteredCall.objects.filter(batch__isnull=False).exists()
    _index()  # the mirror sees the lower allowance: nothing fits, nothing is sent
    assert services.run_settlement().action == "idle"
    suite.allow_spending(USER, 30)
    _index()
    _settle_to_the_end()
    settled = SettlementBatch.objects.get(status="settled")
    assert settled.number == batch.number == 1
    for call in calls:
        call.refresh_from_db()
        assert call.batch_id == settled.pk


def test_a_reorg_that_drops_the_settlement_unsettles_it_until_it_is_mined_again(
    suite, funded, chain
):
    from synod.chain.sender import recheck_mined

    calls = _serve(funded, 3)
    _settle_to_the_end()
    batch = SettlementBatch.objects.get(status="settled")
    mined_in = chain_selectors.outgoing_transaction(batch.outgoing_key).block_number
    chain.mine()
    head = chain.w3.eth.block_number
    chain.rpc("anvil_reorg", [head - mined_in + 1, []])  # same height, without the settlement

    _index()  # the indexer sees the new hashes, rewinds, and the undo handlers run
    batch.refresh_from_db()
    account = TicketAccount.objects.get(address=USER)
    assert batch.status == "sent" and batch.settled_block is None
    assert (account.deposited, account.charged, account.settled) == (40, 6, 0)
    assert account.allowance_remaining == 30
    assert suite["TicketEscrow"].functions.deposits(USER).call() == 40

    recheck_mined()  # the sender sees its transaction gone and broadcasts it again
    _settle_to_the_end()
    _assert_settled_once(suite, calls, deposit_before=40)
    assert SettlementBatch.objects.get().pk == batch.pk
