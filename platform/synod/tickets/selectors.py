"""Reads for tickets."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from web3 import Web3
from web3.contract import Contract

from synod.chain.client import get_web3
from synod.chain.compiler import load_artifact
from synod.chain.deployment import load_deployment

# The escrow's per-user deposit view; the first of these names its ABI has is used.
DEPOSIT_VIEW_NAMES = ("deposits", "depositOf", "depositsOf", "balanceOf")


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
    deployment = load_deployment(settings.CHAIN_ID)
    ticket = _contract(deployment, "PromptTicket")
    escrow = _contract(deployment, "TicketEscrow")
    try:
        wallet = ticket.functions.balanceOf(holder).call() if ticket else None
        deposited = _deposit_of(escrow, holder) if escrow else None
    except Exception as exc:  # any failed read (no node, no code at the address) is an outage
        raise ConnectionError(f"chain unreachable: {type(exc).__name__}") from exc
    reserved = spent = 0
    available = None if deposited is None else max(0, deposited - reserved - spent)
    return TicketSummary(wallet, deposited, reserved, spent, available)


def _contract(deployment: dict, name: str) -> Contract | None:
    record = deployment.get(name)
    if record is None:
        return None
    try:
        abi = load_artifact(name)["abi"]
    except FileNotFoundError:
        return None
    return get_web3().eth.contract(address=Web3.to_checksum_address(record.address), abi=abi)


def _deposit_of(escrow: Contract, holder: str) -> int | None:
    views = {
        item["name"]
        for item in escrow.abi
        if item.get("type") == "function"
        and item.get("stateMutability") == "view"
        and [i["type"] for i in item.get("inputs", [])] == ["address"]
    }
    name = next((n for n in DEPOSIT_VIEW_NAMES if n in views), None)
    if name is None:
        return None
    value = escrow.functions[name](holder).call()
    # A struct-returning view (e.g. amount plus unlock time) puts the amount first.
    return int(value[0] if isinstance(value, list | tuple) else value)
