"""The sha256 that identifies every file here and on-chain, as people and events give it."""

from __future__ import annotations

from synod.registry.errors import InvalidSha256

_HEX_DIGITS = frozenset("0123456789abcdef")


def normalize_sha256(value: str) -> str:
    """`value` as the registry stores a sha256: 64 lowercase hex digits, without the "0x"
    that chain events and wallets put in front. Raises InvalidSha256 for anything else."""
    value = value.strip().lower().removeprefix("0x")
    if len(value) != 64 or not set(value) <= _HEX_DIGITS:
        raise InvalidSha256(f"{value!r} is not a sha256 (64 hex digits).")
    return value
