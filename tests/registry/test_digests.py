"""The sha256 as people and chain events give it, and as the registry stores it."""

from __future__ import annotations

import pytest

from synod.registry.digests import normalize_sha256
from synod.registry.errors import InvalidSha256, RegistryError

DIGEST = "ab" * 32


@pytest.mark.parametrize(
    "given", [DIGEST, DIGEST.upper(), "0x" + DIGEST, "0X" + DIGEST.upper(), f"  {DIGEST}\n"]
)
def test_a_sha256_is_stored_as_64_lowercase_hex_digits(given: str) -> None:
    assert normalize_sha256(given) == DIGEST


@pytest.mark.parametrize("given", ["", "xyz", DIGEST[:-1], DIGEST + "a", "g" * 64, "0x"])
def test_anything_else_is_refused_as_invalid_input(given: str) -> None:
    with pytest.raises(InvalidSha256, match=r"is not a sha256 \(64 hex digits\)") as refused:
        normalize_sha256(given)
    assert isinstance(refused.value, RegistryError)
    assert (refused.value.status_code, refused.value.code) == (400, "invalid_sha256")
