"""The event indexer: mirrors the logs of every deployed contract into ChainEvent.

One pass:
1. takes the chain's lease on its IndexerCursor row (a second indexer finds it held and
   returns at once, so beats and workers never index the same chain concurrently);
2. compares the stored hashes of recently indexed blocks with the chain's; on a mismatch it
   rewinds to the newest block both agree on: undo handlers run for every removed event,
   newest first, the events and block hashes above the fork are deleted, the cursor moves
   back (one transaction); rewind listeners run after it committed;
3. backfills contracts that appeared in the deployment record below the cursor;
4. reads logs in block chunks from the cursor up to head - confirmations, and for each chunk
   stores the events, runs the handlers and moves the cursor in ONE transaction.

Everything a pass needs from the node (block hashes, logs, block timestamps) is read before
the transaction that writes it is opened: no node call is made while a database transaction
or the cursor's lock is held, and handlers get what they need with the event.

A chunk is only stored if the chain did not change while it was read (its last block's hash
is the same before and after reading the logs, and its first block's parent is the block
the cursor points at), so the stored block hashes always describe the stored events.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic
from web3 import Web3

from synod.chain import bindings
from synod.chain.client import get_web3
from synod.chain.codec import abi_types, named_json_to_python, named_values, to_json
from synod.chain.events import DecodedEvent, HandlerRegistry, handlers
from synod.chain.models import ChainEvent, IndexedBlock, IndexerCursor

logger = logging.getLogger(__name__)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


class IndexerError(Exception):
    pass


class ChainMismatch(IndexerError):
    """The RPC node serves another chain than the one being indexed."""


class ChainMovedWhileReading(IndexerError):
    """A reorg happened while a chunk was read; the next pass rewinds and reads again."""


class LeaseLost(IndexerError):
    """Another indexer took over this chain (our lease expired); stop without writing."""


@dataclass
class IndexResult:
    chain_id: int
    skipped: bool = False  # another indexer holds the lease
    start_block: int | None = None
    last_block: int | None = None
    events: int = 0
    chunks: int = 0
    rewound_to: int | None = None
    backfilled: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _EventSpec:
    name: str
    # Indexed dynamic values (string, bytes, arrays, structs) only exist as their topic
    # hash, so they are described as bytes32 for decoding and storage alike.
    params: tuple[dict, ...]
    indexed: tuple[dict, ...]
    data: tuple[dict, ...]


def _is_dynamic(abi_type: str) -> bool:
    return abi_type in ("string", "bytes") or abi_type.endswith("]") or abi_type == "tuple"


def _event_spec(entry: dict) -> _EventSpec:
    params = tuple(
        {"name": p["name"], "type": "bytes32"} if p.get("indexed") and _is_dynamic(p["type"]) else p
        for p in entry["inputs"]
    )
    flags = [bool(raw.get("indexed")) for raw in entry["inputs"]]
    indexed = tuple(p for p, flag in zip(params, flags, strict=True) if flag)
    data = tuple(p for p, flag in zip(params, flags, strict=True) if not flag)
    return _EventSpec(entry["name"], params, indexed, data)


@lru_cache(maxsize=256)
def _events_of(artifact_name: str, artifact_mtime: int) -> dict[bytes, list[_EventSpec]]:
    found: dict[bytes, list[_EventSpec]] = {}
    for entry in bindings.abi(artifact_name):
        if entry.get("type") == "event" and not entry.get("anonymous"):
            found.setdefault(bytes(event_abi_to_log_topic(entry)), []).append(_event_spec(entry))
    return found


def events_of(contract_name: str, chain_id: int) -> dict[bytes, list[_EventSpec]]:
    """topic0 -> candidate events of a deployed contract (several when only indexing differs)."""
    artifact_name = bindings.artifact_name(contract_name, chain_id=chain_id)
    return _events_of(artifact_name, bindings.artifact_mtime_ns(artifact_name))


def _decode_log(events: dict[bytes, list[_EventSpec]], log) -> tuple[_EventSpec, dict] | None:
    topics = [bytes(t) for t in log["topics"]]
    if not topics:
        return None
    for spec in events.get(topics[0], []):
        if len(spec.indexed) != len(topics) - 1:
            continue
        values: dict = {}
        for param, topic in zip(spec.indexed, topics[1:], strict=True):
            (values[param["name"]],) = abi_decode([param["type"]], topic)
        data_values = abi_decode(abi_types(list(spec.data)), bytes(log["data"]))
        values.update(zip([p["name"] for p in spec.data], data_values, strict=True))
        ordered = tuple(values[p["name"]] for p in spec.params)
        return spec, named_values(list(spec.params), ordered)
    return None


def _hex(value) -> str:
    return Web3.to_hex(value) if not isinstance(value, str) else value


def stored_event(row: ChainEvent) -> DecodedEvent:
    """The DecodedEvent of a stored row, as its handlers saw it when it was indexed."""
    args = row.args
    try:
        known = events_of(row.contract_name, row.chain_id)
    except bindings.ArtifactMissing:
        known = {}  # the contract left the build: its stored JSON is all there is
    for specs in known.values():
        for spec in specs:
            if spec.name == row.event_name and {p["name"] for p in spec.params} == set(args):
                args = named_json_to_python(list(spec.params), row.args)
                break
    return DecodedEvent(
        chain_id=row.chain_id,
        contract=row.contract_name,
        address=row.contract_address,
        event=row.event_name,
        args=args,
        block_number=row.block_number,
        block_hash=row.block_hash,
        tx_hash=row.tx_hash,
        log_index=row.log_index,
        block_timestamp=row.block_timestamp,
    )


@dataclass(frozen=True)
class _Chunk:
    first: int
    last: int
    last_hash: str
    block_hashes: dict[int, str]
    rows: list[ChainEvent]


class Indexer:
    def __init__(
        self,
        *,
        chain_id: int | None = None,
        w3: Web3 | None = None,
        registry: HandlerRegistry | None = None,
        chunk_blocks: int | None = None,
        max_chunks: int | None = None,
        confirmations: int | None = None,
        reorg_depth: int | None = None,
        lease_seconds: int | None = None,
    ) -> None:
        self.w3 = w3 or get_web3()
        self.chain_id = settings.CHAIN_ID if chain_id is None else chain_id
        self.registry = registry or handlers
        self.chunk_blocks = chunk_blocks or _setting("CHAIN_INDEXER_CHUNK_BLOCKS", 2000)
        self.max_chunks = max_chunks or _setting("CHAIN_INDEXER_MAX_CHUNKS", 50)
        self.confirmations = (
            _setting("CHAIN_INDEXER_CONFIRMATIONS", 0) if confirmations is None else confirmations
        )
        self.reorg_depth = reorg_depth or _setting("CHAIN_INDEXER_REORG_DEPTH", 64)
        self.lease = timedelta(seconds=lease_seconds or _setting("CHAIN_INDEXER_LEASE_S", 60))
        self.owner = uuid.uuid4().hex

    # --- one pass ----------------------------------------------------------------------

    def run_pass(self) -> IndexResult:
        result = IndexResult(self.chain_id)
        node_chain_id = self.w3.eth.chain_id
        if node_chain_id != self.chain_id:
            raise ChainMismatch(f"the node serves chain {node_chain_id}, not {self.chain_id}")
        contracts = {
            Web3.to_checksum_address(c.address): (name, c.block_number)
            for name, c in bindings.deployed_contracts(self.chain_id).items()
        }
        if not contracts:
            return result
        start = min(block for _name, block in contracts.values()) - 1
        cursor = self._acquire_lease(start)
        if cursor is None:
            result.skipped = True
            return result
        result.start_block = cursor.last_block
        try:
            fork = self._find_fork(cursor.last_block, start)
            if fork is not None:
                self._rewind(fork)
                result.rewound_to = fork
            result.backfilled = self._backfill(contracts, result)
            self._follow(list(contracts), result)
        except (ChainMovedWhileReading, LeaseLost) as exc:
            logger.info("chain %s: %s; retrying next pass", self.chain_id, exc)
        finally:
            self._release_lease()
        result.last_block = IndexerCursor.objects.get(chain_id=self.chain_id).last_block
        return result

    # --- lease -------------------------------------------------------------------------

    def _acquire_lease(self, start: int) -> IndexerCursor | None:
        with transaction.atomic():
            cursor, _ = IndexerCursor.objects.select_for_update().get_or_create(
                chain_id=self.chain_id, defaults={"last_block": start}
            )
            now = timezone.now()
            held = cursor.lease_owner and cursor.lease_expires_at and cursor.lease_expires_at > now
            if held and cursor.lease_owner != self.owner:
                return None
            cursor.lease_owner = self.owner
            cursor.lease_expires_at = now + self.lease
            cursor.save(update_fields=["lease_owner", "lease_expires_at", "updated_at"])
            return cursor

    def _locked_cursor(self) -> IndexerCursor:
        """The cursor row, locked for this transaction, after proving the lease is ours."""
        cursor = IndexerCursor.objects.select_for_update().get(chain_id=self.chain_id)
        if cursor.lease_owner != self.owner:
            raise LeaseLost(f"chain {self.chain_id} is now indexed by {cursor.lease_owner!r}")
        cursor.lease_expires_at = timezone.now() + self.lease
        return cursor

    def _release_lease(self) -> None:
        IndexerCursor.objects.filter(chain_id=self.chain_id, lease_owner=self.owner).update(
            lease_owner="", lease_expires_at=None
        )

    # --- reorgs ------------------------------------------------------------------------

    def _chain_hash(self, number: int) -> str | None:
        block = self.w3.eth.get_block(number) if number >= 0 else None
        return _hex(block["hash"]) if block else None

    def _find_fork(self, cursor_block: int, start: int) -> int | None:
        """None when the stored blocks are still on the chain, else the newest block both
        the stored index and the chain share (all events above it must go)."""
        stored = list(
            IndexedBlock.objects.filter(chain_id=self.chain_id, number__lte=cursor_block)
            .order_by("-number")
            .values_list("number", "hash")
        )
        head = self.w3.eth.block_number
        if not stored:
            return None if cursor_block <= head else start
        for position, (number, block_hash) in enumerate(stored):
            if number <= head and self._chain_hash(number) == block_hash:
                # A block hash commits to all its ancestors: everything below agrees too.
                return None if position == 0 and number == cursor_block else number
        logger.error(
            "chain %s: no indexed block survives (reorg deeper than %s blocks, or the chain "
            "was reset); re-indexing from block %s",
            self.chain_id,
            self.reorg_depth,
            start + 1,
        )
        return start

    def _rewind(self, fork: int) -> None:
        with transaction.atomic():
            cursor = self._locked_cursor()
            removed = ChainEvent.objects.filter(
                chain_id=self.chain_id, block_number__gt=fork
            ).order_by("-block_number", "-log_index")
            for row in removed:
                self.registry.undo(stored_event(row))
            count = removed.delete()[0]
            IndexedBlock.objects.filter(chain_id=self.chain_id, number__gt=fork).delete()
            cursor.last_block = fork
            cursor.save(update_fields=["last_block", "lease_expires_at", "updated_at"])
        # After the commit: listeners may read the chain to re-derive their state.
        self.registry.rewound(self.chain_id, fork)
        logger.warning(
            "chain %s: reorg, rewound to block %s (%s events removed)", self.chain_id, fork, count
        )

    # --- reading -----------------------------------------------------------------------

    def _read_chunk(
        self, contracts: dict[str, str], first: int, last: int, parent_hash: str | None
    ) -> _Chunk:
        last_hash = self._chain_hash(last)
        if parent_hash is not None and first > 0:
            first_block = self.w3.eth.get_block(first)
            if _hex(first_block["parentHash"]) != parent_hash:
                raise ChainMovedWhileReading(f"block {first} no longer follows the cursor")
        logs = self.w3.eth.get_logs(
            {"address": list(contracts), "fromBlock": first, "toBlock": last}
        )
        logs = [log for log in logs if not log.get("removed")]
        timestamps = self._block_timestamps(logs)
        if self._chain_hash(last) != last_hash:
            raise ChainMovedWhileReading(f"block {last} changed while its logs were read")
        rows: list[ChainEvent] = []
        block_hashes = {last: last_hash}
        for log in sorted(logs, key=lambda item: (item["blockNumber"], item["logIndex"])):
            address = Web3.to_checksum_address(log["address"])
            contract_name = contracts[address]
            decoded = _decode_log(events_of(contract_name, self.chain_id), log)
            if decoded is None:
                logger.debug("chain %s: unknown log of %s skipped", self.chain_id, contract_name)
                continue
            spec, args = decoded
            block_hashes[log["blockNumber"]] = _hex(log["blockHash"])
            rows.append(
                ChainEvent(
                    chain_id=self.chain_id,
                    block_number=log["blockNumber"],
                    block_hash=_hex(log["blockHash"]),
                    block_timestamp=timestamps[log["blockNumber"]],
                    tx_hash=_hex(log["transactionHash"]),
                    log_index=log["logIndex"],
                    contract_name=contract_name,
                    contract_address=address,
                    event_name=spec.name,
                    args=to_json(args),
                )
            )
        return _Chunk(first, last, last_hash, block_hashes, rows)

    def _block_timestamps(self, logs: list) -> dict[int, int]:
        """Block number -> timestamp of every block with a log: from the logs where the node
        includes it (anvil, recent geth), else from the block, checked against the logs'
        block hash."""
        timestamps: dict[int, int] = {}
        for log in logs:
            number = log["blockNumber"]
            if number in timestamps:
                continue
            stamp = log.get("blockTimestamp")
            if stamp is None:
                block = self.w3.eth.get_block(number)
                if _hex(block["hash"]) != _hex(log["blockHash"]):
                    raise ChainMovedWhileReading(f"block {number} changed while it was read")
                stamp = block["timestamp"]
            timestamps[number] = int(stamp, 16) if isinstance(stamp, str) else int(stamp)
        return timestamps

    # --- writing -----------------------------------------------------------------------

    def _store(self, chunk: _Chunk, *, move_cursor: bool, expected_cursor: int | None) -> int:
        """Events, handler effects, block hashes and cursor of one chunk, all or nothing.
        Returns how many events were new."""
        created_count = 0
        with transaction.atomic():
            cursor = self._locked_cursor()
            if expected_cursor is not None and cursor.last_block != expected_cursor:
                raise LeaseLost(f"cursor moved to {cursor.last_block} under us")
            for row in chunk.rows:
                stored, created = ChainEvent.objects.get_or_create(
                    chain_id=row.chain_id,
                    tx_hash=row.tx_hash,
                    log_index=row.log_index,
                    defaults={
                        "block_number": row.block_number,
                        "block_hash": row.block_hash,
                        "block_timestamp": row.block_timestamp,
                        "contract_name": row.contract_name,
                        "contract_address": row.contract_address,
                        "event_name": row.event_name,
                        "args": row.args,
                    },
                )
                if created:
                    created_count += 1
                    # The handler sees what a later undo will see: the stored form.
                    self.registry.dispatch(stored_event(stored))
            if move_cursor:
                keep_from = chunk.last - self.reorg_depth
                for number, block_hash in chunk.block_hashes.items():
                    if number > keep_from:
                        IndexedBlock.objects.update_or_create(
                            chain_id=self.chain_id, number=number, defaults={"hash": block_hash}
                        )
                IndexedBlock.objects.filter(chain_id=self.chain_id, number__lte=keep_from).delete()
                cursor.last_block = chunk.last
            cursor.save(update_fields=["last_block", "lease_expires_at", "updated_at"])
        return created_count

    def _follow(self, addresses: list[str], result: IndexResult) -> None:
        contracts = self._names(addresses)
        head = self.w3.eth.block_number - self.confirmations
        cursor = IndexerCursor.objects.get(chain_id=self.chain_id)
        last = cursor.last_block
        while last < head and result.chunks < self.max_chunks:
            first = last + 1
            end = min(first + self.chunk_blocks - 1, head)
            parent = (
                IndexedBlock.objects.filter(chain_id=self.chain_id, number=last)
                .values_list("hash", flat=True)
                .first()
            )
            chunk = self._read_chunk(contracts, first, end, parent)
            result.events += self._store(chunk, move_cursor=True, expected_cursor=last)
            result.chunks += 1
            last = end

    def _backfill(self, contracts: dict[str, tuple[str, int]], result: IndexResult) -> list[str]:
        """Contracts that joined the deployment record after the cursor passed their
        deployment block: read their history up to the cursor, then start following them."""
        cursor = IndexerCursor.objects.get(chain_id=self.chain_id)
        known = set(cursor.contracts)
        late = {a: v for a, v in contracts.items() if a not in known and v[1] <= cursor.last_block}
        for address, (_name, deployed_at) in sorted(late.items(), key=lambda item: item[1][1]):
            first = deployed_at
            while first <= cursor.last_block:
                end = min(first + self.chunk_blocks - 1, cursor.last_block)
                chunk = self._read_chunk(self._names([address]), first, end, None)
                result.events += self._store(
                    chunk, move_cursor=False, expected_cursor=cursor.last_block
                )
                first = end + 1
        with transaction.atomic():
            locked = self._locked_cursor()
            locked.contracts = {address: name for address, (name, _block) in contracts.items()}
            locked.save(update_fields=["contracts", "lease_expires_at", "updated_at"])
        return sorted(contracts[a][0] for a in late)

    def _names(self, addresses: list[str]) -> dict[str, str]:
        records = bindings.deployed_contracts(self.chain_id)
        by_address = {Web3.to_checksum_address(c.address): name for name, c in records.items()}
        return {address: by_address[address] for address in addresses}


def index_chain(**options) -> IndexResult:
    """One indexing pass (see the module doc); options as for `Indexer`."""
    return Indexer(**options).run_pass()
