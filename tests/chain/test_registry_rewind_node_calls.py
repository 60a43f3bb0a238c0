"""A reorg that removes ModelRegistry approval events: the registry's mirror is set back to
what the contract records, and the contract is read only after the indexer's rewind
transaction committed (the guard of tests/chain/node_guard.py fails any node call inside
it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synod.chain.indexer import index_chain
from synod.registry import services as registry_services
from synod.registry.models import ApprovalRecord, Dataset
from tests.chain.node_guard import NodeCallGuard
from tests.registry import builders
from tests.support.suite import Suite

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


@pytest.fixture
def dataset(tmp_path) -> Iterator[Dataset]:
    with builders.blob_storage_at(tmp_path / "blobs"):
        yield builders.upload_blobs_dataset()


def _listed(client) -> set[str]:
    return {row["sha256"] for row in client.get("/api/v1/datasets").json()["results"]}


def _tx(receipt: dict) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x")


def test_a_reorg_removing_a_revocation_restores_the_approval_reading_the_chain_after_commit(
    client, suite: Suite, dataset: Dataset, node_guard: NodeCallGuard
):
    registry = suite["ModelRegistry"].functions
    digest = bytes.fromhex(dataset.sha256)
    suite.as_timelock("data", registry.approveDataset(digest, "synod://d", "MIT"))
    index_chain()
    snapshot = suite.node.snapshot()
    suite.as_timelock("data", registry.revokeDataset(digest))
    index_chain()
    dataset.refresh_from_db()
    assert dataset.approval_status == "revoked"
    assert dataset.sha256 not in _listed(client)

    suite.node.revert(snapshot)  # the revocation's block is replaced by a longer branch
    suite.node.mine(3)
    node_guard.calls.clear()
    result = index_chain()

    assert result.rewound_to is not None
    dataset.refresh_from_db()
    # The approval's own event lies below the fork and is not read again: only the
    # contract, read by the rewind listener, can say the dataset is approved again.
    assert dataset.approval_status == "approved"
    assert dataset.sha256 in _listed(client)
    assert "eth_call" in node_guard.calls  # ModelRegistry.getDataset, outside the transaction
    node_guard.assert_clean()


def test_after_a_reorg_the_surviving_branchs_event_is_recorded_even_from_an_earlier_block(
    suite: Suite, dataset: Dataset, node_guard: NodeCallGuard
):
    registry = suite["ModelRegistry"].functions
    digest = bytes.fromhex(dataset.sha256)
    suite.as_timelock("data", registry.approveDataset(digest, "synod://d", "MIT"))
    index_chain()
    snapshot = suite.node.snapshot()
    suite.node.mine(3)
    orphaned = _tx(suite.as_timelock("data", registry.revokeDataset(digest)))
    index_chain()
    assert ApprovalRecord.objects.get(sha256=dataset.sha256).tx_hash == orphaned

    suite.node.revert(snapshot)
    surviving = suite.as_timelock("data", registry.revokeDataset(digest))
    suite.node.mine(5)
    assert index_chain().rewound_to is not None

    # The surviving revocation is older than the removed one; it still replaces it, since
    # the listener reconciled the record before the indexer read the new branch.
    dataset.refresh_from_db()
    assert dataset.approval_status == "revoked"
    assert dataset.approval_tx_hash == _tx(surviving)
    assert dataset.approval_block_number == surviving["blockNumber"]
    node_guard.assert_clean()


def test_a_reorg_removing_an_approval_also_resets_a_record_reconciled_since(
    client, suite: Suite, dataset: Dataset, node_guard: NodeCallGuard
):
    """A proposal's end reconciles its subject from the chain (the record's block number is
    then 0, below any fork): the removed event itself must lead the listener to it."""
    registry = suite["ModelRegistry"].functions
    digest = bytes.fromhex(dataset.sha256)
    index_chain()
    snapshot = suite.node.snapshot()
    suite.as_timelock("data", registry.approveDataset(digest, "synod://d", "MIT"))
    index_chain()
    assert registry_services.reconcile_approval_with_chain("dataset", dataset.sha256) == "approved"
    assert ApprovalRecord.objects.get(sha256=dataset.sha256).block_number == 0

    suite.node.revert(snapshot)
    suite.node.mine(3)
    assert index_chain().rewound_to is not None

    dataset.refresh_from_db()
    assert dataset.approval_status == "not_proposed"
    assert dataset.sha256 not in _listed(client)
    node_guard.assert_clean()
