"""Provider receipts: what a provider signs for every job it serves, as EIP-712 typed data in
ProviderRegistry's domain, byte for byte what the contract's `receiptDigest` hashes (so the
same signature is a fraud proof on chain when the model was never approved).

Signing and recovery use eth_account and eth_utils only: a provider machine needs no node
connection, and the domain (chain id, registry address) is configuration, or read once from
the contract's ERC-5267 `eip712Domain()` and passed to `ReceiptDomain.from_eip5267`."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import is_address, keccak, to_checksum_address

from synod_core.errors import InvalidReceipt

# The struct ProviderRegistry.Receipt, field for field and in order: the order is part of the
# type hash, so it must never change without the contract.
RECEIPT_TYPE = [
    {"name": "provider", "type": "address"},
    {"name": "modelHash", "type": "bytes32"},
    {"name": "jobId", "type": "bytes32"},
    {"name": "requestHash", "type": "bytes32"},
    {"name": "outputHash", "type": "bytes32"},
    {"name": "ticketsCharged", "type": "uint256"},
    {"name": "servedAt", "type": "uint64"},
]
# What the contract keccak256s into RECEIPT_TYPEHASH.
RECEIPT_TYPE_STRING = "Receipt(" + ",".join(f"{f['type']} {f['name']}" for f in RECEIPT_TYPE) + ")"
EIP712_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
DOMAIN_NAME = "Synod ProviderRegistry"  # EIP712("Synod ProviderRegistry", "1") in the contract
DOMAIN_VERSION = "1"
# ERC-5267 `fields` bitmap for name, version, chainId and verifyingContract (no salt).
DOMAIN_FIELDS = 0x0F
# secp256k1's group order: OpenZeppelin's ECDSA refuses s above half of it (malleable).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SIGNATURE_LENGTH = 65


def _address(value: Any, what: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise InvalidReceipt(f"{what} must be a 20-byte hex address, not {value!r}.")
    return to_checksum_address(value)


@dataclass(frozen=True)
class ReceiptDomain:
    """The EIP-712 domain of one deployed ProviderRegistry."""

    chain_id: int
    verifying_contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def __post_init__(self) -> None:
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int):
            raise InvalidReceipt(f"chain id must be an integer, not {self.chain_id!r}.")
        if not 0 < self.chain_id < 2**256:
            raise InvalidReceipt(f"chain id {self.chain_id} is out of range.")
        checksum = _address(self.verifying_contract, "the registry address")
        object.__setattr__(self, "verifying_contract", checksum)

    @classmethod
    def from_eip5267(cls, values: tuple | list) -> ReceiptDomain:
        """The domain from what `eip712Domain()` returns: (fields, name, version, chainId,
        verifyingContract, salt, extensions)."""
        fields_bitmap, name, version, chain_id, contract, _salt, extensions = values
        bitmap = int.from_bytes(fields_bitmap, "big") if isinstance(fields_bitmap, bytes) else 0
        if bitmap != DOMAIN_FIELDS or list(extensions):
            raise InvalidReceipt(
                f"the contract's EIP-712 domain uses fields {bitmap:#04x} and extensions "
                f"{list(extensions)}; receipts expect {DOMAIN_FIELDS:#04x} and none."
            )
        return cls(chain_id=chain_id, verifying_contract=contract, name=name, version=version)

    def as_typed_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@dataclass(frozen=True)
class Receipt:
    """ProviderRegistry.Receipt. Values are checked on creation, so a receipt that exists
    can always be hashed and sent to the contract as it is."""

    provider: str  # the provider's address (checksummed on creation)
    model_hash: bytes  # sha256 of the ONNX file, as the registry keys model versions
    job_id: bytes
    request_hash: bytes
    output_hash: bytes
    tickets_charged: int
    served_at: int  # unix seconds

    def __post_init__(self) -> None:
        object.__setattr__(self, "provider", _address(self.provider, "provider"))
        for name in ("model_hash", "job_id", "request_hash", "output_hash"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise InvalidReceipt(f"{name} must be 32 bytes, not {value!r}.")
        for name, bits in (("tickets_charged", 256), ("served_at", 64)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
                raise InvalidReceipt(f"{name} must be an integer from 0 to 2**{bits} - 1.")

    def as_tuple(self) -> tuple:
        """The struct as a contract call takes it, e.g. slashWithReceipt(receipt.as_tuple())."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def as_message(self) -> dict[str, Any]:
        """The typed-data message: the contract's field names."""
        return {
            spec["name"]: value for spec, value in zip(RECEIPT_TYPE, self.as_tuple(), strict=True)
        }

    def as_json(self) -> dict[str, Any]:
        """JSON-safe: hex strings for bytes, numbers as decimal strings (uint256 does not fit
        a JSON number every reader parses exactly)."""
        return {
            "provider": self.provider,
            "model_hash": "0x" + self.model_hash.hex(),
            "job_id": "0x" + self.job_id.hex(),
            "request_hash": "0x" + self.request_hash.hex(),
            "output_hash": "0x" + self.output_hash.hex(),
            "tickets_charged": str(self.tickets_charged),
            "served_at": str(self.served_at),
        }

    @classmethod
    def from_json(cls, data: Any) -> Receipt:
        """The receipt from `as_json`'s form; InvalidReceipt for anything else."""
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict) or sorted(data) != sorted(names):
            raise InvalidReceipt(f"a receipt is an object with exactly the fields {names}.")
        values: dict[str, Any] = {"provider": data["provider"]}
        for name in ("model_hash", "job_id", "request_hash", "output_hash"):
            values[name] = _hex_bytes(data[name], name)
        for name in ("tickets_charged", "served_at"):
            text = data[name]
            # ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
            if not isinstance(text, str) or not re.fullmatch(r"[0-9]{1,78}", text):
                raise InvalidReceipt(f"{name} must be a decimal string.")
            values[name] = int(text)
        return cls(**values)


def _hex_bytes(value: Any, name: str, length: int = 32) -> bytes:
    # A strict pattern: bytes.fromhex alone would skip spaces inside the digits.
    if not isinstance(value, str) or not re.fullmatch(f"0x[0-9a-fA-F]{{{2 * length}}}", value):
        raise InvalidReceipt(f"{name} must be 0x and {2 * length} hex digits.")
    return bytes.fromhex(value[2:])


def typed_receipt(receipt: Receipt, domain: ReceiptDomain) -> dict[str, Any]:
    """The full EIP-712 typed data of `receipt` (what eth_account and wallets sign)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "Receipt": RECEIPT_TYPE},
        "primaryType": "Receipt",
        "domain": domain.as_typed_data(),
        "message": receipt.as_message(),
    }


def _signable(receipt: Receipt, domain: ReceiptDomain) -> SignableMessage:
    return encode_typed_data(full_message=typed_receipt(receipt, domain))


def receipt_digest(receipt: Receipt, domain: ReceiptDomain) -> bytes:
    """The 32-byte digest signed, equal to ProviderRegistry.receiptDigest(receipt)."""
    signable = _signable(receipt, domain)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_receipt(receipt: Receipt, private_key: str | bytes, domain: ReceiptDomain) -> bytes:
    """The provider's 65-byte signature (r, s, v with v 27 or 28, low s) over the receipt."""
    signed = Account.sign_message(_signable(receipt, domain), private_key)
    return bytes(signed.signature)


def recover_signer(receipt: Receipt, signature: bytes, domain: ReceiptDomain) -> str:
    """The address that signed `receipt`, accepting only what OpenZeppelin's ECDSA.recover
    accepts (65 bytes, v 27 or 28, s in the lower half): a signature the contract would
    refuse must not pass here either. InvalidReceipt for a malformed signature."""
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LENGTH:
        raise InvalidReceipt(f"a receipt signature is {SIGNATURE_LENGTH} bytes.")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28) or not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        raise InvalidReceipt("the receipt signature is malformed (v, r or s out of range).")
    try:
        return Account.recover_message(_signable(receipt, domain), signature=signature)
    except Exception as exc:  # eth_keys raises its own types for points off the curve
        raise InvalidReceipt(f"the receipt signature does not recover: {exc}") from exc


def verify_receipt(receipt: Receipt, signature: bytes, domain: ReceiptDomain) -> bool:
    """Whether `signature` is the receipt's provider signing it in `domain` (an EOA; a
    contract wallet's ERC-1271 signature needs a node and is checked on chain)."""
    try:
        return recover_signer(receipt, signature, domain) == receipt.provider
    except InvalidReceipt:
        return False


@dataclass(frozen=True)
class SignedReceipt:
    receipt: Receipt
    signature: bytes

    def verify(self, domain: ReceiptDomain) -> bool:
        return verify_receipt(self.receipt, self.signature, domain)

    def as_json(self) -> dict[str, Any]:
        return {"receipt": self.receipt.as_json(), "signature": "0x" + self.signature.hex()}

    @classmethod
    def from_json(cls, data: Any) -> SignedReceipt:
        if not isinstance(data, dict) or sorted(data) != ["receipt", "signature"]:
            raise InvalidReceipt("a signed receipt is an object with receipt and signature.")
        signature = _hex_bytes(data["signature"], "signature", SIGNATURE_LENGTH)
        return cls(Receipt.from_json(data["receipt"]), signature)


def receipt_type_hash() -> bytes:
    """keccak256 of the type string, equal to the contract's RECEIPT_TYPEHASH."""
    return keccak(text=RECEIPT_TYPE_STRING)
