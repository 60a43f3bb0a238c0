"""Reads for tickets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from eth_utils import to_checksum_address

from synod.chain import selectors as chain_selectors
from synod.chain.errors import ArtifactMissing, ChainUnavailable, ContractNotDeployed

if TYPE_CHECKING:
    from web3.contract import Contract


@dataclass(frozen=True)
class TicketSummary:
    """Whole tickets (the token has 0 decimals). None: that contract is not deployed yet."""

    wallet: int | None  # PromptTicket balance held in the wallet
    deposited: int | None  # held for the user in TicketEscrow
    reserved: int  # held back for calls in flight
    spent: int  # used by calls not yet settled on-chain
    available: int | None  # deposited - reserved - spent


def ticket_summary(address: str) -> TicketSummary:
    """The ticket figures of `address`, read from the chain.

    `reserved` and `spent` come from the off-chain usage ledger, which the inference issue
    adds; until then they are 0. Raises ChainUnavailable (a ConnectionError) when the chain
    does not answer.
    """
    holder = to_checksum_address(address)
    ticket = _deployed("PromptTicket")
    escrow = _deployed("TicketEscrow")
    try:
        wallet = ticket.functions.balanceOf(holder).call() if ticket else None
        deposited = escrow.functions.deposits(holder).call() if escrow else None
    except ChainUnavailable:
        raise
    except Exception as exc:  # any failed read (no code at the address) is an outage too
        raise ChainUnavailable(reason=f"ticket read failed: {type(exc).__name__}") from exc
    reserved = spent = 0
    available = None if deposited is None else max(0, deposited - reserved - spent)
    return TicketSummary(wallet, deposited, reserved, spent, available)


def _deployed(name: str) -> Contract | None:
    try:
        return chain_selectors.contract(name)
    except (ContractNotDeployed, ArtifactMissing):
        return None
