"""Shared pieces of the ledger tests: a funded account, and receipts a provider signs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from eth_account import Account

from synod.tickets import services
from synod.tickets.models import TicketAccount
from synod_core.receipts import Receipt, ReceiptDomain, SignedReceipt, sign_receipt

# anvil's dev accounts 5 and 6: published test keys, worthless off a local chain.
PROVIDER_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"
OTHER_PROVIDER_KEY = "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e"
PROVIDER = Account.from_key(PROVIDER_KEY).address
USER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # dev account 4
MODEL = "0x" + "ab" * 32
DOMAIN = ReceiptDomain(chain_id=31337, verifying_contract="0x" + "5f" * 20)


def fund(
    address: str = USER, *, deposit: int, allowance: int | None = None, days: int = 30
) -> TicketAccount:
    """Set the escrow mirror as if the indexer had seen a deposit and an allowance."""
    account = services.account_for(address)
    account.deposited = deposit
    account.allowance_remaining = deposit if allowance is None else allowance
    account.allowance_valid_until = datetime.now(tz=UTC) + timedelta(days=days)
    account.save()
    return account


def receipt_for(
    reservation: services.Reservation,
    *,
    key: str = PROVIDER_KEY,
    model: str = MODEL,
    tickets: int | None = None,
    domain: ReceiptDomain = DOMAIN,
) -> dict:
    receipt = Receipt(
        provider=Account.from_key(key).address,
        model_hash=bytes.fromhex(model[2:]),
        job_id=reservation.job_id,
        request_hash=b"\x01" * 32,
        output_hash=b"\x02" * 32,
        tickets_charged=reservation.price if tickets is None else tickets,
        served_at=int(time.time()),
    )
    return SignedReceipt(receipt, sign_receipt(receipt, key, domain)).as_json()
