"""Provider receipts signed in Python exactly as ProviderRegistry hashes them (EIP-712)."""

from __future__ import annotations

from dataclasses import astuple, dataclass

from eth_account import Account
from eth_account.messages import encode_typed_data
from web3.contract import Contract

RECEIPT_FIELDS = [
    {"name": "provider", "type": "address"},
    {"name": "modelHash", "type": "bytes32"},
    {"name": "jobId", "type": "bytes32"},
    {"name": "requestHash", "type": "bytes32"},
    {"name": "outputHash", "type": "bytes32"},
    {"name": "ticketsCharged", "type": "uint256"},
    {"name": "servedAt", "type": "uint64"},
]


@dataclass(frozen=True)
class Receipt:
    provider: str
    modelHash: bytes
    jobId: bytes
    requestHash: bytes
    outputHash: bytes
    ticketsCharged: int
    servedAt: int

    def as_tuple(self) -> tuple:
        return astuple(self)


def typed_receipt(registry: Contract, receipt: Receipt) -> dict:
    # ERC-5267: the contract tells us its own domain.
    _fields, name, version, chain_id, verifying_contract, _salt, _ext = (
        registry.functions.eip712Domain().call()
    )
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Receipt": RECEIPT_FIELDS,
        },
        "primaryType": "Receipt",
        "domain": {
            "name": name,
            "version": version,
            "chainId": chain_id,
            "verifyingContract": verifying_contract,
        },
        "message": {
            "provider": receipt.provider,
            "modelHash": receipt.modelHash,
            "jobId": receipt.jobId,
            "requestHash": receipt.requestHash,
            "outputHash": receipt.outputHash,
            "ticketsCharged": receipt.ticketsCharged,
            "servedAt": receipt.servedAt,
        },
    }


def sign_receipt(registry: Contract, receipt: Receipt, private_key: str) -> bytes:
    message = encode_typed_data(full_message=typed_receipt(registry, receipt))
    return bytes(Account.sign_message(message, private_key).signature)
