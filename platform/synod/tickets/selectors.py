"""Reads for tickets."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3
from web3.contract import Contract

from synod.chain import bindings


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
    adds; until then they are 0. Raises ConnectionError when the chain does not answer.
    """
    holder = Web3.to_checksum_address(address)
    ticket = _deployed("PromptTicket")
    escrow = _deployed("TicketEscrow")
    try:
        wallet = ticket.functions.balanceOf(holder).call() if ticket else None
        deposited = escrow.functions.deposits(holder).call() if escrow else None
    except Exception as exc:  # any failed read (no node, no code at the address) is an outage
        raise ConnectionError(f"chain unreachable: {type(exc).__name__}") from exc
    reserved = spent = 0
    available = None if deposited is None else max(0, deposited - reserved - spent)
    return TicketSummary(wallet, deposited, reserved, spent, available)


def _deployed(name: str) -> Contract | None:
    try:
        return bindings.contract(name)
    except (bindings.ContractNotDeployed, bindings.ArtifactMissing):
        return None
