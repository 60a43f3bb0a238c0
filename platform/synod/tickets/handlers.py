"""The ledger's mirror follows TicketEscrow's events (services/mirror.py)."""

from synod.chain.services import register_handler
from synod.tickets.services import mirror

_ESCROW = "TicketEscrow"

register_handler(_ESCROW, "Deposited", mirror.record_deposit, undo=mirror.undo_deposit)
register_handler(
    _ESCROW,
    "WithdrawalRequested",
    mirror.record_withdrawal_requested,
    undo=mirror.undo_withdrawal_requested,
)
register_handler(
    _ESCROW,
    "WithdrawalCompleted",
    mirror.record_withdrawal_completed,
    undo=mirror.undo_withdrawal_completed,
)
register_handler(
    _ESCROW, "SpendingAllowanceSet", mirror.record_allowance_set, undo=mirror.undo_allowance_set
)
register_handler(
    _ESCROW, "BatchSettled", mirror.record_batch_settled, undo=mirror.undo_batch_settled
)
register_handler(_ESCROW, "Claimed", mirror.record_claim, undo=mirror.undo_claim)
