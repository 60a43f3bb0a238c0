"""Spending allowances: a user signs (EIP-712, from the wallet) the most tickets settlement may
debit from them until a date; the platform relays the signature to TicketEscrow, which
enforces it on every settlement. The ledger sees the new allowance when the indexer does."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from eth_utils import keccak, to_checksum_address

from synod.chain import services as chain_services
from synod.chain.errors import ContractRevert
from synod.tickets import errors

if TYPE_CHECKING:
    from synod.chain.models import OutgoingTransaction

# The escrow packs the allowance into 80 bits (with the deposit and the expiry in one slot).
MAX_ALLOWANCE = 2**80 - 1
MAX_VALID_UNTIL = 2**48 - 1
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130,}$")


def submit_spending_allowance(
    *, address: str, max_tickets: int, valid_until: int, signature: str
) -> OutgoingTransaction:
    """Relay a wallet-signed allowance through the platform's sender (settlement lane).

    Returns the sender's outbox row (PENDING/SENT, then MINED or FAILED). Refused with
    AllowanceRefused, before anything is sent, when the values or the signature are not
    what the escrow accepts (the estimate's decoded revert, in words)."""
    if isinstance(max_tickets, bool) or not isinstance(max_tickets, int):
        raise errors.AllowanceRefused("The allowance is a whole number of tickets.")
    if not 0 <= max_tickets <= MAX_ALLOWANCE:
        raise errors.AllowanceRefused(
            f"The allowance must be between 0 and {MAX_ALLOWANCE} tickets.", field="max_tickets"
        )
    if not isinstance(valid_until, int) or not time.time() < valid_until <= MAX_VALID_UNTIL:
        raise errors.AllowanceRefused(
            "The allowance must end at a date in the future.", field="valid_until"
        )
    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        raise errors.AllowanceRefused("The wallet's signature is missing or malformed.")
    user = to_checksum_address(address)
    signature_bytes = bytes.fromhex(signature[2:])
    try:
        return chain_services.send_contract_call(
            contract="TicketEscrow",
            function="setSpendingAllowance",
            args=[user, max_tickets, valid_until, signature_bytes],
            idempotency_key=f"tickets-allowance:{keccak(signature_bytes).hex()}",
            account=chain_services.settlement_account(),
            purpose="relay spending allowance",
            wait=False,
        )
    except ContractRevert as exc:
        raise errors.AllowanceRefused(f"TicketEscrow refuses this allowance: {exc.detail}") from exc
