"""Writes of the tickets app: metering (ledger), settlement, and the escrow mirror the
indexer moves (mirror). Other apps call these names only."""

from synod.tickets.services.allowances import submit_spending_allowance
from synod.tickets.services.ledger import (
    Reservation,
    account_for,
    charge_call,
    fingerprint_request,
    job_id_for,
    receipt_domain,
    release_call,
    reserve_call,
    spendable,
    withdrawable,
)
from synod.tickets.services.settlement import (
    SettlementRun,
    advance_batch,
    fail_batch,
    open_batch,
    run_settlement,
    seal_batch,
    split_batch,
    waive_unbillable,
)

__all__ = [
    "Reservation",
    "SettlementRun",
    "account_for",
    "advance_batch",
    "charge_call",
    "fail_batch",
    "fingerprint_request",
    "job_id_for",
    "open_batch",
    "receipt_domain",
    "release_call",
    "reserve_call",
    "run_settlement",
    "seal_batch",
    "spendable",
    "split_batch",
    "submit_spending_allowance",
    "waive_unbillable",
    "withdrawable",
]
