"""Builds EIP-4361 messages and signatures the way a wallet and wallet.js do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from siwe import SiweMessage

from synod.chain.devnode import ANVIL_DEV_KEYS

TEST_HOST = "testserver"  # the Django test client's host
TEST_ORIGIN = f"http://{TEST_HOST}"
# anvil's published dev accounts 1 and 2 (genesis badge holders on the local chain).
DEV_KEYS = ANVIL_DEV_KEYS[1:3]


def dev_account(index: int = 0) -> LocalAccount:
    return Account.from_key(DEV_KEYS[index])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_message(
    *,
    address: str,
    nonce: str,
    domain: str = TEST_HOST,
    uri: str = TEST_ORIGIN,
    chain_id: int = 31337,
    issued_at: datetime | None = None,
    lifetime: timedelta | None = timedelta(minutes=10),
    statement: str = "Sign in to Synod.",
) -> str:
    issued_at = issued_at or datetime.now(UTC)
    fields = {
        "domain": domain,
        "address": address,
        "uri": uri,
        "version": "1",
        "chain_id": chain_id,
        "nonce": nonce,
        "issued_at": iso(issued_at),
        "statement": statement,
    }
    if lifetime is not None:
        fields["expiration_time"] = iso(issued_at + lifetime)
    return SiweMessage(**fields).prepare_message()


def sign(message: str, account: LocalAccount) -> str:
    signed = account.sign_message(encode_defunct(text=message))
    return "0x" + bytes(signed.signature).hex()
