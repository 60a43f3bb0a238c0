"""0003/0004: "pending_vote" leaves the approval mirror. Each stored one takes the state the
chain last reported for its hash (the newest approval event the indexer stored), else "not
proposed" with no block, as a reconcile with the contract leaves it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from synod.chain.models import ChainEvent

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("registry", "0002_upload_limits")]
AFTER = [("registry", "0004_approval_status_chain_states_only")]
APPROVED_SHA, QUIET_SHA, MODEL_SHA = "aa" * 32, "bb" * 32, "cc" * 32
TX_APPROVE, TX_REVOKE, TX_VOTE = ("0x" + c * 64 for c in "123")


@pytest.fixture
def old_apps() -> Iterator:
    """The registry's models as they were before 0003; every app migrated back to its
    newest after. (The chain app's tables stay as they are.)"""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        yield executor.loader.project_state(BEFORE).apps
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def migrate_forward():
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    return executor.loader.project_state(AFTER).apps


def test_stored_pending_votes_take_the_last_chain_state(old_apps) -> None:
    Dataset = old_apps.get_model("registry", "Dataset")
    ApprovalRecord = old_apps.get_model("registry", "ApprovalRecord")
    for sha256 in (APPROVED_SHA, QUIET_SHA):
        Dataset.objects.create(
            sha256=sha256, name=sha256[:4], format="csv", size_bytes=1, storage_name=sha256,
            input_columns=["a"], column_types={"a": "int64"}, row_count=1,
            approval_status="pending_vote", approval_block_number=9, approval_tx_hash=TX_VOTE,
        )  # fmt: skip
        ApprovalRecord.objects.create(
            kind="dataset", sha256=sha256, status="pending_vote", block_number=9, tx_hash=TX_VOTE
        )
    # A hash not uploaded here: its record alone.
    ApprovalRecord.objects.create(
        kind="model", sha256=MODEL_SHA, status="pending_vote", block_number=9, tx_hash=TX_VOTE
    )
    # The chain approved APPROVED_SHA, revoked and approved it again; QUIET_SHA's and
    # MODEL_SHA's only events are of other hashes or other kinds.
    for block, event, sha256, tx in [
        (3, "DatasetApproved", APPROVED_SHA, TX_REVOKE),
        (5, "DatasetRevoked", APPROVED_SHA, TX_REVOKE),
        (7, "DatasetApproved", APPROVED_SHA, TX_APPROVE),
        (8, "DatasetApproved", MODEL_SHA, TX_APPROVE),  # a dataset event, not the model's
    ]:
        ChainEvent.objects.create(
            chain_id=31337, block_number=block, block_hash="0x", tx_hash=tx, log_index=block,
            contract_name="ModelRegistry", contract_address="0x" + "00" * 20, event_name=event,
            args={"datasetHash": "0x" + sha256},
        )  # fmt: skip

    new_apps = migrate_forward()

    Dataset = new_apps.get_model("registry", "Dataset")
    ApprovalRecord = new_apps.get_model("registry", "ApprovalRecord")
    rows = {
        sha256: (status, block, tx)
        for sha256, status, block, tx in Dataset.objects.values_list(
            "sha256", "approval_status", "approval_block_number", "approval_tx_hash"
        )
    }
    assert rows == {
        APPROVED_SHA: ("approved", 7, TX_APPROVE),
        QUIET_SHA: ("not_proposed", None, ""),
    }
    records = {
        (kind, sha256): (status, block, tx)
        for kind, sha256, status, block, tx in ApprovalRecord.objects.values_list(
            "kind", "sha256", "status", "block_number", "tx_hash"
        )
    }
    assert records == {
        ("dataset", APPROVED_SHA): ("approved", 7, TX_APPROVE),
        ("dataset", QUIET_SHA): ("not_proposed", 0, ""),
        ("model", MODEL_SHA): ("not_proposed", 0, ""),
    }
