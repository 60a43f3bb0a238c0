"""Reads of the chain app, for other apps: the deployed contracts (web3 Contract objects
whose views they call), the node's head, the indexed events, the sender's outbox, and the
EIP-712 messages the contracts verify. Other apps never import web3 themselves."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from synod.chain import bindings, typed_data
from synod.chain.client import get_web3, make_web3
from synod.chain.deployment import deployment_complete, load_deployment
from synod.chain.devnode import ANVIL_DEV_KEYS, LOCAL_CHAIN_IDS
from synod.chain.events import DecodedEvent
from synod.chain.indexer import stored_event
from synod.chain.models import ChainEvent, IndexerCursor, OutgoingTransaction

# The chain app's public reading surface: other apps read contracts through these names.
contract = bindings.contract
deployed = bindings.deployed
deployed_contracts = bindings.deployed_contracts
encode_call = bindings.encode_call
abi = bindings.abi

# EIP-712 messages for a wallet to sign, with the domain read from the contract itself.
ballot_typed_data = typed_data.ballot
extended_ballot_typed_data = typed_data.extended_ballot
permit_typed_data = typed_data.permit
spending_allowance_typed_data = typed_data.spending_allowance

# The outbox states (PENDING, SENT, MINED, FAILED), to compare an OutgoingTransaction with.
OutgoingStatus = OutgoingTransaction.Status

__all__ = [
    "ChainStatus",
    "DecodedEvent",
    "IndexerStatus",
    "OutgoingStatus",
    "abi",
    "ballot_typed_data",
    "chain_events",
    "chain_status",
    "contract",
    "contract_address",
    "deployed",
    "deployed_contracts",
    "dev_keys",
    "encode_call",
    "extended_ballot_typed_data",
    "head_block_number",
    "indexer_status",
    "is_local_dev_chain",
    "node_answers",
    "node_chain_id",
    "outgoing_transaction",
    "outgoing_transaction_by_hash",
    "permit_typed_data",
    "spending_allowance_typed_data",
]


def head_block_number() -> int:
    """The node's latest block number. Raises ChainUnavailable when it does not answer."""
    return get_web3().eth.block_number


def node_chain_id() -> int:
    """The chain id the node serves (settings.CHAIN_ID is the one the platform expects)."""
    return get_web3().eth.chain_id


def dev_keys() -> list[str]:
    """anvil's published dev keys by account index (0 is the local operator, 1-3 the
    genesis experts). They hold value only on a local dev chain (`is_local_dev_chain`)."""
    return list(ANVIL_DEV_KEYS)


@dataclass(frozen=True)
class ChainStatus:
    reachable: bool
    expected_chain_id: int
    chain_id: int | None = None
    block_number: int | None = None
    contracts: dict[str, str] = field(default_factory=dict)
    # Every contract deployed and wired (a start-up deployment may still be under way).
    deployed: bool = False
    error: str = ""

    @property
    def chain_id_matches(self) -> bool:
        return self.chain_id == self.expected_chain_id


def node_answers(rpc_url: str, *, timeout_s: float = 1) -> bool:
    """Whether a node answers at `rpc_url` within `timeout_s`."""
    try:
        _ = make_web3(rpc_url, timeout=timeout_s).eth.chain_id
    except Exception:
        return False
    return True


def is_local_dev_chain() -> bool:
    """The configured chain, and the node that answers for it, are a local dev chain (anvil),
    where dev keys and demo content belong."""
    return settings.CHAIN_ID in LOCAL_CHAIN_IDS and get_web3().eth.chain_id in LOCAL_CHAIN_IDS


def chain_status() -> ChainStatus:
    expected = settings.CHAIN_ID
    try:
        w3 = get_web3()
        chain_id = w3.eth.chain_id
        block_number = w3.eth.block_number
    except Exception as exc:
        return ChainStatus(
            reachable=False,
            expected_chain_id=expected,
            error=f"no answer from {settings.CHAIN_RPC_URL}: {type(exc).__name__}",
        )
    contracts = {name: c.address for name, c in load_deployment(chain_id).items()}
    return ChainStatus(
        True, expected, chain_id, block_number, contracts, deployment_complete(chain_id)
    )


def contract_address(name: str) -> str | None:
    record = load_deployment(settings.CHAIN_ID).get(name)
    return record.address if record else None


@dataclass(frozen=True)
class IndexerStatus:
    chain_id: int
    last_block: int | None
    events: int
    indexing_now: bool


def indexer_status(chain_id: int | None = None) -> IndexerStatus:
    chain_id = settings.CHAIN_ID if chain_id is None else chain_id
    cursor = IndexerCursor.objects.filter(chain_id=chain_id).first()
    return IndexerStatus(
        chain_id=chain_id,
        last_block=cursor.last_block if cursor else None,
        events=ChainEvent.objects.filter(chain_id=chain_id).count(),
        indexing_now=bool(
            cursor
            and cursor.lease_owner
            and cursor.lease_expires_at
            and cursor.lease_expires_at > timezone.now()
        ),
    )


def chain_events(
    *,
    contract: str | None = None,
    event: str | None = None,
    chain_id: int | None = None,
    from_block: int | None = None,
) -> list[DecodedEvent]:
    """Indexed events in chain order, as the handlers received them."""
    rows = ChainEvent.objects.filter(chain_id=settings.CHAIN_ID if chain_id is None else chain_id)
    if contract is not None:
        rows = rows.filter(contract_name=contract)
    if event is not None:
        rows = rows.filter(event_name=event)
    if from_block is not None:
        rows = rows.filter(block_number__gte=from_block)
    return [stored_event(row) for row in rows.order_by("block_number", "log_index")]


def outgoing_transaction(
    idempotency_key: str, *, chain_id: int | None = None
) -> OutgoingTransaction | None:
    return OutgoingTransaction.objects.filter(
        chain_id=settings.CHAIN_ID if chain_id is None else chain_id,
        idempotency_key=idempotency_key,
    ).first()


def outgoing_transaction_by_hash(
    tx_hash: str, *, chain_id: int | None = None
) -> OutgoingTransaction | None:
    """The outbox row with this hash, or one of whose signed versions (a fee replacement
    keeps every version, and any of them may be the one mined) has it."""
    rows = OutgoingTransaction.objects.filter(
        chain_id=settings.CHAIN_ID if chain_id is None else chain_id
    )
    return (
        rows.filter(tx_hash__iexact=tx_hash).first()
        or rows.filter(attempts__tx_hash__iexact=tx_hash).first()
    )
