"""Reads of the tickets app: balances, usage, settlement batches and their proofs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from eth_utils import to_checksum_address

from synod.chain import selectors as chain_selectors
from synod.chain.errors import ArtifactMissing, ChainUnavailable, ContractNotDeployed
from synod.tickets import errors
from synod.tickets.models import EscrowCredit, MeteredCall, SettlementBatch, TicketAccount
from synod.tickets.services.ledger import spendable, withdrawable
from synod_core.merkle import MerkleTree
from synod_core.settlement_proofs import PROOF_FORMAT

if TYPE_CHECKING:
    from web3.contract import Contract


@dataclass(frozen=True)
class TicketSummary:
    """Whole tickets (the token has 0 decimals). `wallet` is None when PromptTicket is not
    deployed yet. The rest is the ledger: the escrow's figures as last indexed, and the
    calls reserved and charged but not yet settled."""

    wallet: int | None  # PromptTicket balance held in the wallet
    deposited: int  # held for the user in TicketEscrow
    reserved: int  # held back for calls in flight
    spent: int  # charged by calls not yet settled on chain
    available: int  # what new calls may reserve
    withdrawable: int  # the most a withdrawal request may ask for now
    withdrawal_pending: int
    withdrawal_available_at: datetime | None
    allowance_remaining: int
    allowance_valid_until: datetime | None
    settled: int  # settled on chain, all time


def _account(address: str) -> TicketAccount | None:
    return TicketAccount.objects.filter(
        chain_id=settings.CHAIN_ID, address=to_checksum_address(address)
    ).first()


def ticket_summary(address: str) -> TicketSummary:
    """The ticket figures of `address`. The wallet balance is read from the chain (raises
    ChainUnavailable, a ConnectionError, when the node does not answer); the rest from the
    ledger."""
    holder = to_checksum_address(address)
    ticket = deployed_contract("PromptTicket")
    wallet = _read_now(ticket.functions.balanceOf(holder), "ticket") if ticket else None
    account = _account(holder) or TicketAccount(chain_id=settings.CHAIN_ID, address=holder)
    return TicketSummary(
        wallet=wallet,
        deposited=account.deposited,
        reserved=account.reserved,
        spent=account.charged,
        available=spendable(account),
        withdrawable=withdrawable(account),
        withdrawal_pending=account.withdrawal_requested,
        withdrawal_available_at=account.withdrawal_available_at,
        allowance_remaining=account.allowance_remaining,
        allowance_valid_until=account.allowance_valid_until,
        settled=account.settled,
    )


def deployed_contract(name: str) -> Contract | None:
    """The deployed contract `name`, or None while it is not deployed on this chain."""
    try:
        return chain_selectors.contract(name)
    except (ContractNotDeployed, ArtifactMissing):
        return None


def claimable_credits(address: str) -> int | None:
    """TicketEscrow.credits(address), read now: what a claim would pay. None when the
    escrow is not deployed; ChainUnavailable (a ConnectionError) when the node is away."""
    escrow = deployed_contract("TicketEscrow")
    if escrow is None:
        return None
    return _read_now(escrow.functions.credits(to_checksum_address(address)), "credits")


def _read_now(call: Any, what: str) -> Any:
    """A contract view read; any failure (no code at the address, a node error) is the
    chain being away: ChainUnavailable."""
    try:
        return call.call()
    except ChainUnavailable:
        raise
    except Exception as exc:
        raise ChainUnavailable(reason=f"{what} read failed: {type(exc).__name__}") from exc


def allowance_typed_data(address: str, max_tickets: int, valid_until: int) -> dict[str, Any]:
    """The EIP-712 message a wallet signs (eth_signTypedData_v4) to grant a spending
    allowance; reads the escrow's domain and the user's nonce from the chain."""
    return chain_selectors.spending_allowance_typed_data(
        chain_selectors.contract("TicketEscrow"),
        user=to_checksum_address(address),
        max_tickets=max_tickets,
        valid_until=valid_until,
    )


# --- usage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRow:
    call_id: UUID
    created_at: datetime
    model_hash: str
    provider: str
    tickets: int
    latency_ms: int | None
    status: str  # reserved | charged | released | settled
    batch_number: int | None
    receipt: dict[str, Any] | None


def _usage_row(call: MeteredCall) -> UsageRow:
    settled = call.batch is not None and call.batch.status == SettlementBatch.Status.SETTLED
    return UsageRow(
        call_id=call.call_id,
        created_at=call.created_at,
        model_hash=call.model_hash,
        provider=call.provider,
        tickets=call.price,
        latency_ms=call.latency_ms,
        status="settled" if settled else call.status,
        batch_number=call.batch.number if call.batch else None,
        receipt=call.receipt,
    )


def _calls_of(address: str):
    return MeteredCall.objects.filter(
        account__chain_id=settings.CHAIN_ID, account__address=to_checksum_address(address)
    )


def usage_for(address: str, *, limit: int = 100, before: datetime | None = None) -> list[UsageRow]:
    """The user's calls, newest first."""
    calls = _calls_of(address).select_related("batch").order_by("-created_at", "-pk")
    if before is not None:
        calls = calls.filter(created_at__lt=before)
    return [_usage_row(call) for call in calls[:limit]]


def daily_usage(address: str, days: int = 30) -> list[tuple[date, str, int]]:
    """Tickets charged per model per day over the last `days` days, oldest first."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        _calls_of(address)
        .filter(status=MeteredCall.Status.CHARGED, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "model_hash")
        .annotate(tickets=Sum("price"))
        .order_by("day", "model_hash")
    )
    return [(row["day"], row["model_hash"], row["tickets"]) for row in rows]


CSV_HEADER = [
    "time",
    "call_id",
    "model_sha256",
    "provider",
    "tickets",
    "latency_ms",
    "status",
    "batch",
    "receipt_digest",
]


def usage_csv_rows(address: str) -> Iterator[list[str]]:
    """Every call of the user as CSV rows, the header first (streamed, oldest first)."""
    yield CSV_HEADER
    calls = _calls_of(address).select_related("batch").order_by("created_at", "pk")
    for call in calls.iterator(chunk_size=2000):
        row = _usage_row(call)
        yield [
            row.created_at.isoformat(),
            str(row.call_id),
            row.model_hash,
            row.provider,
            str(row.tickets),
            "" if row.latency_ms is None else str(row.latency_ms),
            row.status,
            "" if row.batch_number is None else str(row.batch_number),
            call.receipt_digest,
        ]


# --- settlement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UserBatch:
    number: int
    settled_at: datetime | None
    tickets: int
    calls: int
    tx_hash: str


def batches_for(address: str) -> list[UserBatch]:
    """The settled batches that carried the user's calls, newest first."""
    rows = (
        _calls_of(address)
        .filter(batch__status=SettlementBatch.Status.SETTLED)
        .values("batch__number", "batch__settled_at", "batch__tx_hash")
        .annotate(tickets=Sum("price"), calls=Count("pk"))
        .order_by("-batch__number")
    )
    return [
        UserBatch(
            r["batch__number"],
            r["batch__settled_at"],
            r["tickets"],
            r["calls"],
            r["batch__tx_hash"],
        )
        for r in rows
    ]


def proof_bundle(address: str, batch_number: int) -> dict[str, Any]:
    """The user's receipts in a settled batch, each with its Merkle proof: the file the
    `synod-verify-receipts` command checks against the root on chain (docs/settlement.md)."""
    batch = SettlementBatch.objects.filter(
        chain_id=settings.CHAIN_ID, number=batch_number, status=SettlementBatch.Status.SETTLED
    ).first()
    mine = (
        list(_calls_of(address).filter(batch=batch).order_by("created_at", "pk")) if batch else []
    )
    if not mine:
        raise errors.NoProofs(f"You have no settled calls in batch {batch_number}.")
    leaves = MeteredCall.objects.filter(batch=batch).values_list("receipt_leaf", flat=True)
    tree = MerkleTree([bytes.fromhex(leaf[2:]) for leaf in leaves])
    return {
        "format": PROOF_FORMAT,
        "chain_id": batch.chain_id,
        "escrow": chain_selectors.contract_address("TicketEscrow"),
        "provider_registry": chain_selectors.contract_address("ProviderRegistry"),
        "batch": batch.number,
        "receipts_root": batch.receipts_root,
        "settlement_tx": batch.tx_hash,
        "settled_block": batch.settled_block,
        "user": to_checksum_address(address),
        "receipts": [
            {
                "call_id": str(call.call_id),
                "signed_receipt": call.receipt,
                "leaf": call.receipt_leaf,
                "proof": [
                    "0x" + node.hex() for node in tree.proof(bytes.fromhex(call.receipt_leaf[2:]))
                ],
            }
            for call in mine
        ],
    }


@dataclass(frozen=True)
class ProviderEarnings:
    credited_total: int  # credited by settlements, all time
    claimed_total: int
    claimable: int  # credited and not yet claimed (as last indexed)


def provider_earnings(address: str) -> ProviderEarnings:
    credit = EscrowCredit.objects.filter(
        chain_id=settings.CHAIN_ID, address=to_checksum_address(address)
    ).first()
    if credit is None:
        return ProviderEarnings(0, 0, 0)
    return ProviderEarnings(credit.credited, credit.claimed, credit.credited - credit.claimed)
