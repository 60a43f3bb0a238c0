"""The approval mirror holds only what the chain says: "pending vote" was governance's
knowledge written into it, and is now derived when shown (selectors.with_shown_approval).

Each stored "pending_vote" takes the state the chain last reported for its hash: the newest
ModelRegistry approval event the indexer stored for it (approved or revoked, with that
event's block and transaction), else "not proposed" with no block, as a reconcile with the
contract leaves it, so that any event the indexer reads later wins. Kept apart from the
schema change (0004): PostgreSQL refuses to alter a table with row updates pending in the
same transaction."""

from django.db import migrations

PENDING_VOTE = "pending_vote"
# kind -> (the hash's argument, {event: status}), as synod.registry.handlers applies them.
EVENTS = {
    "dataset": ("datasetHash", {"DatasetApproved": "approved", "DatasetRevoked": "revoked"}),
    "model": ("modelHash", {"ModelVersionApproved": "approved", "ModelVersionRevoked": "revoked"}),
}


def _chain_state(ChainEvent, kind: str, sha256: str) -> tuple[str, int, str]:
    """(status, block number, tx hash) of the newest stored approval event of the hash."""
    field, statuses = EVENTS[kind]
    event = (
        ChainEvent.objects.filter(
            contract_name="ModelRegistry",
            event_name__in=list(statuses),
            **{f"args__{field}": "0x" + sha256},
        )
        .order_by("-block_number", "-log_index")
        .first()
    )
    if event is None:
        return "not_proposed", 0, ""
    return statuses[event.event_name], event.block_number, event.tx_hash


def pending_votes_to_chain_states(apps, schema_editor) -> None:
    ChainEvent = apps.get_model("chain", "ChainEvent")
    ApprovalRecord = apps.get_model("registry", "ApprovalRecord")
    rows = {"dataset": apps.get_model("registry", "Dataset"),
            "model": apps.get_model("registry", "ModelVersion")}  # fmt: skip

    pending = {(kind, sha256) for kind, sha256 in ApprovalRecord.objects.filter(
        status=PENDING_VOTE).values_list("kind", "sha256")}  # fmt: skip
    for kind, model in rows.items():
        # Rows follow their record; a row marked without one is put right all the same.
        for sha256 in model.objects.filter(approval_status=PENDING_VOTE).values_list(
            "sha256", flat=True
        ):
            pending.add((kind, sha256))

    for kind, sha256 in sorted(pending):
        status, block_number, tx_hash = _chain_state(ChainEvent, kind, sha256)
        ApprovalRecord.objects.filter(kind=kind, sha256=sha256, status=PENDING_VOTE).update(
            status=status, block_number=block_number, tx_hash=tx_hash
        )
        rows[kind].objects.filter(sha256=sha256, approval_status=PENDING_VOTE).update(
            approval_status=status,
            approval_block_number=block_number or None,
            approval_tx_hash=tx_hash,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_upload_limits"),
        ("chain", "0001_initial"),
    ]

    operations = [
        # Not reversible in kind: which hashes had a vote open is governance's to say.
        migrations.RunPython(pending_votes_to_chain_states, migrations.RunPython.noop),
    ]
