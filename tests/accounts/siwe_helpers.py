"""Builds EIP-4361 messages and signatures the way a wallet and wallet.js do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from siwe import SiweMessage

TEST_HOST = "testserver"  # the Django test client's host
TEST_ORIGIN = f"http://{TEST_HOST}"
# anvil's published dev keys: test-only.
DEV_KEYS = [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
]


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
