"""EIP-712 messages the deployed contracts verify. The domain is read from the contract itself
(ERC-5267 `eip712Domain()`), so a message can only be built for the contract and chain that
will check it; the struct types are those of OpenZeppelin's Governor ballots and ERC-20 permits."""

from __future__ import annotations

from typing import Any

from web3.contract import Contract

EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
BALLOT = [
    {"name": "proposalId", "type": "uint256"},
    {"name": "support", "type": "uint8"},
    {"name": "voter", "type": "address"},
    {"name": "nonce", "type": "uint256"},
]
EXTENDED_BALLOT = [
    *BALLOT,
    {"name": "reason", "type": "string"},
    {"name": "params", "type": "bytes"},
]
PERMIT = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


def domain(contract: Contract) -> dict[str, Any]:
    _fields, name, version, chain_id, verifying_contract, _salt, _extensions = (
        contract.functions.eip712Domain().call()
    )
    return {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": verifying_contract,
    }


def typed_data(
    contract: Contract, primary_type: str, fields: list[dict], message: dict[str, Any]
) -> dict[str, Any]:
    """The full message, as `eth_signTypedData_v4` and eth_account's `full_message` take it."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN, primary_type: fields},
        "primaryType": primary_type,
        "domain": domain(contract),
        "message": message,
    }


def _nonce(contract: Contract, owner: str, nonce: int | None) -> int:
    return contract.functions.nonces(owner).call() if nonce is None else nonce


def ballot(
    council: Contract, *, proposal_id: int, support: int, voter: str, nonce: int | None = None
) -> dict[str, Any]:
    """For `castVoteBySig`; the voter's current nonce unless one is given."""
    message = {"proposalId": proposal_id, "support": support, "voter": voter,
               "nonce": _nonce(council, voter, nonce)}  # fmt: skip
    return typed_data(council, "Ballot", BALLOT, message)


def extended_ballot(
    council: Contract, *, proposal_id: int, support: int, voter: str, reason: str,
    params: str = "0x", nonce: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """For `castVoteWithReasonAndParamsBySig`."""
    message = {
        "proposalId": proposal_id, "support": support, "voter": voter,
        "nonce": _nonce(council, voter, nonce), "reason": reason, "params": params,
    }  # fmt: skip
    return typed_data(council, "ExtendedBallot", EXTENDED_BALLOT, message)


def permit(
    token: Contract, *, owner: str, spender: str, value: int, deadline: int,
    nonce: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """For ERC-2612 `permit` (and `depositWithPermit`)."""
    message = {"owner": owner, "spender": spender, "value": value,
               "nonce": _nonce(token, owner, nonce), "deadline": deadline}  # fmt: skip
    return typed_data(token, "Permit", PERMIT, message)


SPENDING_ALLOWANCE = [
    {"name": "user", "type": "address"},
    {"name": "maxTickets", "type": "uint256"},
    {"name": "validUntil", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]


def spending_allowance(
    escrow: Contract, *, user: str, max_tickets: int, valid_until: int, nonce: int | None = None
) -> dict[str, Any]:
    """For TicketEscrow `setSpendingAllowance`: the most settlement may debit from `user`
    until `valid_until` (Unix seconds); the user's current nonce unless one is given."""
    message = {"user": user, "maxTickets": max_tickets, "validUntil": valid_until,
               "nonce": _nonce(escrow, user, nonce)}  # fmt: skip
    return typed_data(escrow, "SpendingAllowance", SPENDING_ALLOWANCE, message)
