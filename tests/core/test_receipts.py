"""Provider receipts: the EIP-712 type and digest are ProviderRegistry's, signatures round
trip, and anything the contract would refuse is refused here too."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from synod_core.errors import InvalidReceipt
from synod_core.receipts import (
    DOMAIN_NAME,
    RECEIPT_TYPE_STRING,
    SECP256K1_N,
    Receipt,
    ReceiptDomain,
    SignedReceipt,
    receipt_digest,
    receipt_type_hash,
    recover_signer,
    sign_receipt,
    typed_receipt,
    verify_receipt,
)

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "src" / "ProviderRegistry.sol"
# anvil's first two development keys: public test keys, never used for anything real.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
PROVIDER = Account.from_key(KEY).address
DOMAIN = ReceiptDomain(chain_id=31337, verifying_contract="0x" + "ab" * 20)
RECEIPT = Receipt(
    provider=PROVIDER,
    model_hash=keccak(text="model"),
    job_id=keccak(text="job-1"),
    request_hash=keccak(text="request"),
    output_hash=keccak(text="output"),
    tickets_charged=2,
    served_at=1_700_000_000,
)


def test_the_type_is_the_contracts_type() -> None:
    source = CONTRACT.read_text()
    (declared,) = re.findall(r'RECEIPT_TYPEHASH = keccak256\(\s*"([^"]+)"', source)
    assert declared == RECEIPT_TYPE_STRING
    assert receipt_type_hash() == keccak(text=declared)
    assert f'EIP712("{DOMAIN_NAME}", "1")' in source


def test_the_digest_is_what_the_contract_computes() -> None:
    """_hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, ...fields))), written out."""
    domain_type = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    separator = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                domain_type,
                keccak(text=DOMAIN_NAME),
                keccak(text="1"),
                DOMAIN.chain_id,
                DOMAIN.verifying_contract,
            ],
        )
    )
    struct = keccak(
        encode(
            ["bytes32", "address", "bytes32", "bytes32", "bytes32", "bytes32", "uint256", "uint64"],
            [receipt_type_hash(), *RECEIPT.as_tuple()],
        )
    )
    assert receipt_digest(RECEIPT, DOMAIN) == keccak(b"\x19\x01" + separator + struct)


def test_a_signature_recovers_its_signer_and_verifies() -> None:
    signature = sign_receipt(RECEIPT, KEY, DOMAIN)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert recover_signer(RECEIPT, signature, DOMAIN) == PROVIDER
    assert verify_receipt(RECEIPT, signature, DOMAIN)
    assert SignedReceipt(RECEIPT, signature).verify(DOMAIN)


@pytest.mark.parametrize(
    "changed",
    [
        {"tickets_charged": 3},
        {"served_at": 1_700_000_001},
        {"model_hash": keccak(text="another model")},
        {"output_hash": keccak(text="another output")},
    ],
)
def test_a_changed_receipt_no_longer_verifies(changed: dict) -> None:
    signature = sign_receipt(RECEIPT, KEY, DOMAIN)
    assert not verify_receipt(replace(RECEIPT, **changed), signature, DOMAIN)


def test_another_domain_or_signer_does_not_verify() -> None:
    signature = sign_receipt(RECEIPT, KEY, DOMAIN)
    assert not verify_receipt(RECEIPT, signature, replace(DOMAIN, chain_id=1))
    assert not verify_receipt(
        RECEIPT, signature, replace(DOMAIN, verifying_contract="0x" + "cd" * 20)
    )
    forged = sign_receipt(RECEIPT, OTHER_KEY, DOMAIN)
    assert recover_signer(RECEIPT, forged, DOMAIN) == Account.from_key(OTHER_KEY).address
    assert not verify_receipt(RECEIPT, forged, DOMAIN)


def test_signatures_the_contract_would_refuse_are_refused() -> None:
    signature = sign_receipt(RECEIPT, KEY, DOMAIN)
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    # The same signature in its malleable twin (s -> n - s, v flipped): OpenZeppelin's ECDSA
    # refuses it, so a receipt must not count as signed with it either.
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    for bad in (signature[:64], signature + b"\x00", twin, signature[:64] + b"\x01"):
        with pytest.raises(InvalidReceipt):
            recover_signer(RECEIPT, bad, DOMAIN)
        assert not verify_receipt(RECEIPT, bad, DOMAIN)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"provider": "0x1234"}, "provider must be a 20-byte hex address"),
        ({"model_hash": b"\x00" * 31}, "model_hash must be 32 bytes"),
        ({"job_id": "0x" + "00" * 32}, "job_id must be 32 bytes"),
        ({"tickets_charged": -1}, "tickets_charged must be an integer"),
        ({"tickets_charged": True}, "tickets_charged must be an integer"),
        ({"served_at": 2**64}, "served_at must be an integer from 0 to 2**64 - 1"),
    ],
)
def test_receipts_the_contract_could_not_hash_cannot_be_made(changes, fragment) -> None:
    with pytest.raises(InvalidReceipt, match=re.escape(fragment)):
        replace(RECEIPT, **changes)


def test_addresses_are_checksummed_on_creation() -> None:
    assert replace(RECEIPT, provider=PROVIDER.lower()).provider == PROVIDER
    lower = ReceiptDomain(1, "0x" + "ab" * 20)
    assert lower.verifying_contract == to_checksum_address("0x" + "ab" * 20)
    assert lower == ReceiptDomain(1, "0x" + "AB" * 20)


def test_the_domain_comes_from_eip5267() -> None:
    values = (b"\x0f", DOMAIN_NAME, "1", 31337, "0x" + "ab" * 20, b"\x00" * 32, [])
    assert ReceiptDomain.from_eip5267(values) == DOMAIN
    with pytest.raises(InvalidReceipt, match="fields 0x1f"):
        ReceiptDomain.from_eip5267((b"\x1f", *values[1:]))


def test_the_typed_data_is_the_receipt_under_the_contracts_names() -> None:
    typed = typed_receipt(RECEIPT, DOMAIN)
    assert typed["primaryType"] == "Receipt"
    assert typed["domain"] == {
        "name": DOMAIN_NAME,
        "version": "1",
        "chainId": 31337,
        "verifyingContract": DOMAIN.verifying_contract,
    }
    assert list(typed["message"]) == [field["name"] for field in typed["types"]["Receipt"]]
    assert typed["message"]["ticketsCharged"] == 2


bytes32 = st.binary(min_size=32, max_size=32)
receipts = st.builds(
    Receipt,
    provider=st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    model_hash=bytes32,
    job_id=bytes32,
    request_hash=bytes32,
    output_hash=bytes32,
    tickets_charged=st.integers(0, 2**256 - 1),
    served_at=st.integers(0, 2**64 - 1),
)


@settings(max_examples=60, deadline=None)
@given(receipt=receipts, signature=st.binary(min_size=65, max_size=65))
def test_receipts_round_trip_through_json(receipt: Receipt, signature: bytes) -> None:
    assert Receipt.from_json(receipt.as_json()) == receipt
    signed = SignedReceipt(receipt, signature)
    assert SignedReceipt.from_json(signed.as_json()) == signed


@settings(max_examples=25, deadline=None)
@given(receipt=receipts)
def test_any_receipt_signed_verifies(receipt: Receipt) -> None:
    signer = replace(receipt, provider=PROVIDER)
    assert verify_receipt(signer, sign_receipt(signer, KEY, DOMAIN), DOMAIN)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d | {"extra": 1},
        lambda d: {k: v for k, v in d.items() if k != "job_id"},
        lambda d: d | {"served_at": 1_700_000_000},
        lambda d: d | {"served_at": "-1"},
        lambda d: d | {"served_at": "١٢"},  # Arabic-Indic digits: isdigit() but not ours
        lambda d: d | {"model_hash": "0x" + "0" * 63},
        lambda d: d | {"model_hash": "0x" + "0 " * 32},
        lambda d: d | {"provider": "0x" + "zz" * 20},
    ],
)
def test_receipt_json_is_read_strictly(mutate) -> None:
    with pytest.raises(InvalidReceipt):
        Receipt.from_json(mutate(RECEIPT.as_json()))
