"""The event indexer against a real anvil node: exactly once, resumable, reorg-safe.

Handler effects are rows in a real table (auth groups named after the events they record),
so they commit and roll back with the indexer's transaction like any app's models would.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from web3 import Web3

from synod.chain import bindings, selectors, tasks
from synod.chain.events import DecodedEvent, HandlerRegistry
from synod.chain.indexer import Indexer, index_chain
from synod.chain.models import ChainEvent, IndexedBlock, IndexerCursor

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


class TicketLedger:
    """A handler pair that records each TicketsBought as a row and undoes it on rewind."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, int]] = []
        self.undone: list[tuple[str, int]] = []
        self.registry = HandlerRegistry()
        self.registry.register("PromptTicket", "TicketsBought", self.apply, undo=self.undo)
        self.fail_on_tx: str | None = None

    @staticmethod
    def row_name(event: DecodedEvent) -> str:
        return f"bought:{event.args['buyer']}:{event.args['tickets']}:{event.tx_hash}"

    def apply(self, event: DecodedEvent) -> None:
        if event.tx_hash == self.fail_on_tx:
            raise RuntimeError("handler crashed")
        Group.objects.create(name=self.row_name(event))
        self.applied.append((event.tx_hash, event.log_index))

    def undo(self, event: DecodedEvent) -> None:
        Group.objects.filter(name=self.row_name(event)).delete()
        self.undone.append((event.tx_hash, event.log_index))

    @staticmethod
    def rows() -> list[str]:
        names = Group.objects.filter(name__startswith="bought:").values_list("name", flat=True)
        return sorted(names)


@pytest.fixture
def ledger() -> TicketLedger:
    return TicketLedger()


def _buy(chain, ticket, price: int, account_index: int, tickets: int = 1) -> str:
    buyer = chain.w3.eth.accounts[account_index]
    tx = ticket.functions.buy().transact({"from": buyer, "value": price * tickets})
    chain.w3.eth.wait_for_transaction_receipt(tx)
    return Web3.to_hex(tx)


def _bought() -> list[ChainEvent]:
    return list(ChainEvent.objects.filter(event_name="TicketsBought").order_by("block_number"))


def test_events_are_indexed_once_with_decoded_arguments(chain, ticket, price, ledger):
    txs = [_buy(chain, ticket, price, 3), _buy(chain, ticket, price, 4, tickets=10)]

    first = index_chain(registry=ledger.registry)
    assert first.events >= 4  # two TicketsBought and their two mints, plus deployment events
    again = index_chain(registry=ledger.registry)
    assert again.events == 0 and again.last_block == first.last_block

    bought = _bought()
    assert [e.tx_hash for e in bought] == txs
    big = bought[1]
    # 10 tickets at 1e15 wei is beyond JavaScript's safe integers: stored as a string ...
    assert big.args == {
        "buyer": chain.w3.eth.accounts[4],
        "tickets": 10,
        "paid": str(price * 10),
    }
    # ... and handed to handlers as an int, the same way on every path.
    assert ledger.applied == [(tx, e.log_index) for tx, e in zip(txs, bought, strict=True)]
    decoded = selectors.chain_events(contract="PromptTicket", event="TicketsBought")
    assert decoded[1].args["paid"] == price * 10
    mints = ChainEvent.objects.filter(event_name="Transfer", tx_hash__in=txs)
    assert {m.args["value"] for m in mints} == {1, 10}
    assert ChainEvent.objects.get(tx_hash=txs[0], event_name="Transfer").args["from"] == (
        "0x" + "00" * 20
    )
    status = selectors.indexer_status()
    assert status.last_block == chain.w3.eth.block_number and not status.indexing_now


def test_a_crash_in_the_middle_resumes_without_duplicates(chain, ticket, price, ledger):
    txs = [_buy(chain, ticket, price, i) for i in (3, 4, 5, 6)]

    # One block per chunk, two chunks per pass: the first pass stops part way.
    partial = index_chain(registry=ledger.registry, chunk_blocks=1, max_chunks=2)
    assert partial.chunks == 2
    done_before_crash = len(ledger.applied)

    # The handler of the third purchase crashes: its chunk is not kept at all.
    ledger.fail_on_tx = txs[2]
    with pytest.raises(RuntimeError, match="handler crashed"):
        index_chain(registry=ledger.registry, chunk_blocks=1)
    crashed_cursor = IndexerCursor.objects.get().last_block
    assert not ChainEvent.objects.filter(tx_hash=txs[2]).exists()
    receipt = chain.w3.eth.get_transaction_receipt(txs[2])
    assert crashed_cursor == receipt["blockNumber"] - 1
    assert IndexerCursor.objects.get().lease_owner == ""  # released despite the crash

    ledger.fail_on_tx = None
    index_chain(registry=ledger.registry, chunk_blocks=1)
    assert [e.tx_hash for e in _bought()] == txs
    assert [tx for tx, _ in ledger.applied] == txs
    assert len(ledger.rows()) == 4
    assert done_before_crash <= 2


@pytest.mark.parametrize("longer", [True, False], ids=["longer-fork", "shorter-fork"])
def test_a_reorg_leaves_only_the_surviving_chain(chain, ticket, price, ledger, longer):
    common = _buy(chain, ticket, price, 3)
    fork_point = chain.w3.eth.block_number
    snapshot = chain.snapshot()
    orphaned = [_buy(chain, ticket, price, 4), _buy(chain, ticket, price, 5)]
    chain.mine(3)
    index_chain(registry=ledger.registry)
    assert [e.tx_hash for e in _bought()] == [common, *orphaned]
    assert len(ledger.rows()) == 3

    chain.revert(snapshot)
    surviving = [_buy(chain, ticket, price, 6, tickets=2)]
    if longer:
        chain.mine(10)

    result = index_chain(registry=ledger.registry)

    assert result.rewound_to is not None and result.rewound_to <= fork_point
    assert [e.tx_hash for e in _bought()] == [common, *surviving]
    assert not ChainEvent.objects.filter(tx_hash__in=orphaned).exists()
    assert {tx for tx, _ in ledger.undone} == set(orphaned)
    expected = sorted(
        TicketLedger.row_name(e) for e in selectors.chain_events(event="TicketsBought")
    )
    assert ledger.rows() == expected
    assert all(
        chain.w3.eth.get_block(b.number)["hash"].hex() == b.hash.removeprefix("0x")
        for b in IndexedBlock.objects.all()
    )
    assert index_chain(registry=ledger.registry).rewound_to is None


def test_a_reorg_with_no_common_stored_block_reindexes_from_the_start(chain, ticket, price, ledger):
    snapshot = chain.snapshot()
    orphaned = _buy(chain, ticket, price, 4)
    indexer = Indexer(registry=ledger.registry, reorg_depth=1)
    indexer.run_pass()
    IndexedBlock.objects.exclude(number=IndexerCursor.objects.get().last_block).delete()
    chain.revert(snapshot)
    surviving = _buy(chain, ticket, price, 5)
    chain.mine(2)

    Indexer(registry=ledger.registry).run_pass()
    assert [e.tx_hash for e in _bought()] == [surviving]
    assert ledger.undone == [(orphaned, ledger.applied[0][1])]


@pytest.mark.django_db(transaction=True)
def test_two_indexers_at_once_store_each_event_once(chain, ticket, price, ledger):
    txs = [_buy(chain, ticket, price, i) for i in (3, 4, 5)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait()
            results.append(index_chain(registry=ledger.registry, chunk_blocks=1))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    index_chain(registry=ledger.registry)  # whichever was skipped, the index is complete
    assert [e.tx_hash for e in _bought()] == txs
    assert sorted(tx for tx, _ in ledger.applied) == sorted(txs)
    assert len(ledger.rows()) == 3


def test_a_contract_added_to_the_deployment_later_is_backfilled(
    chain, deployed, ticket, price, ledger, settings, tmp_path
):
    late_ticket = chain.w3.eth.contract(abi=ticket.abi, bytecode=_bytecode())
    tx = late_ticket.constructor(price, chain.w3.eth.accounts[0]).transact(
        {"from": chain.w3.eth.accounts[0]}
    )
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx)
    late = chain.w3.eth.contract(address=receipt["contractAddress"], abi=ticket.abi)
    early_purchase = _buy(chain, late, price, 7)
    index_chain(registry=ledger.registry)
    assert not ChainEvent.objects.filter(tx_hash=early_purchase).exists()

    # The deployment record now lists it (as a later deployment run would) under a name of
    # its own: its artifact is found by bytecode, as for the three councils.
    settings.DEPLOYMENTS_DIR = tmp_path
    records = {name: asdict(record) for name, record in deployed.items()}
    records["LateTicket"] = {
        **records["PromptTicket"],
        "name": "LateTicket",
        "address": late.address,
        "block_number": receipt["blockNumber"],
    }
    (tmp_path / "31337.json").write_text(json.dumps({"chain_id": 31337, "contracts": records}))
    later_purchase = _buy(chain, late, price, 8)
    assert bindings.artifact_name("LateTicket") == "PromptTicket"
    assert bindings.contract("LateTicket").address == late.address

    result = index_chain(registry=ledger.registry)
    assert result.backfilled == ["LateTicket"]
    late_events = ChainEvent.objects.filter(contract_name="LateTicket", event_name="TicketsBought")
    assert sorted(e.tx_hash for e in late_events) == sorted([early_purchase, later_purchase])


def _bytecode() -> str:
    from synod.chain.bindings import artifact

    return artifact("PromptTicket")["bytecode"]


def test_command_and_celery_task_run_a_pass(chain, ticket, price, capsys):
    tx = _buy(chain, ticket, price, 3)
    call_command("index_chain")
    assert "new events" in capsys.readouterr().out
    assert ChainEvent.objects.filter(tx_hash=tx, event_name="TicketsBought").exists()
    tx2 = _buy(chain, ticket, price, 4)
    tasks.index_chain.apply()
    assert ChainEvent.objects.filter(tx_hash=tx2, event_name="TicketsBought").exists()


def test_a_held_lease_makes_a_second_indexer_skip(chain, ticket, price):
    index_chain()
    tx = _buy(chain, ticket, price, 3)
    holder = Indexer()
    assert holder._acquire_lease(start=0) is not None
    assert index_chain().skipped
    assert not ChainEvent.objects.filter(tx_hash=tx).exists()
    holder._release_lease()
    assert not index_chain().skipped
    assert ChainEvent.objects.filter(tx_hash=tx).exists()


def test_block_timestamps_come_with_the_events_even_from_nodes_that_omit_them(
    chain, ticket, price, rpc_proxy
):
    """Handlers get the block time with the event (they must not ask the node): from the
    logs where the node includes it, else read from the blocks before the transaction."""
    tx = _buy(chain, ticket, price, 3)
    rpc_proxy.strip_log_timestamps = True
    index_chain(w3=rpc_proxy.w3)
    row = ChainEvent.objects.get(tx_hash=tx, event_name="TicketsBought")
    assert row.block_timestamp == chain.w3.eth.get_block(row.block_number)["timestamp"]
    assert selectors.chain_events(event="TicketsBought")[0].block_time.timestamp() == (
        row.block_timestamp
    )
