"""The chain app's refusals, under the one application error model (synod.common.errors),
and revert data decoded into the contracts' named custom errors.

Every compiled artifact contributes its `error` ABI entries, so a revert raised by any
contract (or a library it inherits, like OpenZeppelin's ERC20 errors) gets its name and
arguments back, e.g. `PromptTicketPaymentTooSmall(paid=1, price=1000)`.

Other apps catch or let through these classes only; the handlers answer them as HTTP
(ChainUnavailable as a 503, ContractRevert as a 409, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import function_signature_to_4byte_selector, is_address
from eth_utils.abi import abi_to_signature
from requests.exceptions import ConnectionError as NodeUnreachable
from requests.exceptions import Timeout as NodeTimeout
from web3.exceptions import ContractLogicError, Web3RPCError

from synod.chain.codec import abi_types, named_values
from synod.common.errors import ApplicationError

if TYPE_CHECKING:
    from synod.chain.models import OutgoingTransaction

__all__ = [
    "ArtifactMissing",
    "BroadcastFailed",
    "ChainError",
    "ChainUnavailable",
    "ContractNotDeployed",
    "ContractRevert",
    "DevChainRefused",
    "IdempotencyConflict",
    "NotSent",
    "ReceiptTimeout",
    "TransactionError",
    "TransactionFailed",
    "as_contract_revert",
    "decode_revert",
    "known_errors",
]

CHAIN_UNAVAILABLE = "the chain does not answer right now; try again shortly"


class ChainError(ApplicationError):
    """Base of the chain app's refusals."""

    status_code = 503
    code = "chain_error"


class ChainUnavailable(ChainError, ConnectionError):
    """The chain node could not be reached or did not answer in time. Raised by the
    platform's web3 clients for every such request (synod.chain.client), so it reaches a
    web request as a 503 instead of a crash. Also a ConnectionError: callers that show a
    page without chain figures when the chain is away catch it as one."""

    status_code = 503
    code = "chain_unavailable"

    def __init__(self, detail: str = CHAIN_UNAVAILABLE, *, reason: str = "") -> None:
        super().__init__(detail)
        # What happened, in words, for logs and for messages that say why (NotSent).
        self.reason = reason or detail


class ContractNotDeployed(ChainError):
    """The deployment record of this chain has no contract by that name."""

    status_code = 503
    code = "contract_not_deployed"


class ArtifactMissing(ChainError):
    """No compiled artifact for that contract name: run `manage.py compile_contracts`."""

    status_code = 503
    code = "artifact_missing"


class DevChainRefused(ChainError):
    """A local dev chain's own RPC method (anvil_mine, evm_increaseTime) was refused, or a
    dev-chain-only action was asked of another chain."""

    status_code = 409
    code = "dev_chain_refused"


class ContractRevert(ChainError):
    """A contract call reverted. `name` is the Solidity error name ("Error" for
    require-with-message, "Panic" for assert/arithmetic, "" when no data came back),
    `args` its decoded arguments by parameter name, `data` the raw revert bytes."""

    status_code = 409
    code = "contract_reverted"

    def __init__(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        data: bytes = b"",
        contracts: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.arguments = dict(arguments or {})
        self.data = data
        # Which artifacts declare this error: a hint where it came from, not a proof.
        self.contracts = contracts
        super().__init__(self._describe())
        # What a person reads in an answer; str() stays the bare revert (logs, revert_name).
        self.detail = f"the contract would refuse: {self._describe()}"

    # Exposed as `.args` (the natural name for callers); the message stays in the
    # exception's own C-level args, which repr() and tracebacks use.
    @property
    def args(self) -> dict[str, Any]:  # type: ignore[override]
        return self.arguments

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_rebuild_revert, (self.name, self.arguments, self.data, self.contracts))

    def _describe(self) -> str:
        if not self.name and not self.data:
            return "reverted without a reason"
        if not self.name:
            return f"reverted with undecoded data 0x{self.data.hex()}"
        inner = ", ".join(f"{key}={_render(value)}" for key, value in self.arguments.items())
        return f"{self.name}({inner})"

    def __str__(self) -> str:
        return self._describe()


def _rebuild_revert(
    name: str, arguments: dict[str, Any], data: bytes, contracts: tuple[str, ...]
) -> ContractRevert:
    return ContractRevert(name, arguments, data=data, contracts=contracts)


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return value if is_address(value) else repr(value)
    return str(value)


# --- The transaction sender's errors (synod.chain.sender) ----------------------------------


class TransactionError(ChainError):
    """Base class of the sender's own errors."""

    status_code = 503
    code = "transaction_error"


def _plain_cause(cause: BaseException) -> str:
    if isinstance(cause, ChainUnavailable):
        return cause.reason
    if isinstance(cause, NodeTimeout):
        return "the chain node did not answer in time"
    if isinstance(cause, NodeUnreachable):
        return "the chain node could not be reached"
    return str(cause) or type(cause).__name__


class NotSent(TransactionError):
    """Never sent: the transaction could not be estimated, built, signed or saved (the
    node did not answer, the key is missing...). This call saved nothing and used no nonce."""

    status_code = 503
    code = "transaction_not_sent"

    def __init__(self, idempotency_key: str, cause: BaseException) -> None:
        self.idempotency_key = idempotency_key
        self.reason = _plain_cause(cause)
        super().__init__(f"{idempotency_key} was not sent: {self.reason}")


class IdempotencyConflict(TransactionError):
    """Never sent: the idempotency key was already used for a different transaction."""

    status_code = 409
    code = "idempotency_conflict"


class BroadcastFailed(TransactionError):
    """In flight: the transaction is signed and saved (PENDING), but no node accepted it on
    this attempt (it may even have reached one). `resend_unfinished` sends it again."""

    # The node (our upstream) failed us, and the transaction may still land: a 502.
    status_code = 502
    code = "broadcast_failed"

    def __init__(self, outgoing: OutgoingTransaction, cause: BaseException) -> None:
        self.outgoing = outgoing
        super().__init__(f"{outgoing.tx_hash}: {cause}")


class ReceiptTimeout(TransactionError):
    """In flight: sent but not mined in time; ask again later with the same key."""

    status_code = 503
    code = "receipt_timeout"

    def __init__(self, outgoing: OutgoingTransaction, timeout: float) -> None:
        self.outgoing = outgoing
        super().__init__(f"{outgoing.tx_hash} not mined within {timeout}s")


class TransactionFailed(TransactionError):
    """The transaction was mined and reverted (`outgoing.revert_name` says why when the
    replay could tell), or its nonce was taken by another transaction."""

    status_code = 409
    code = "transaction_failed"

    def __init__(self, outgoing: OutgoingTransaction) -> None:
        self.outgoing = outgoing
        reason = outgoing.revert_name or outgoing.last_error or "reverted without a reason"
        super().__init__(f"{outgoing.idempotency_key} ({outgoing.tx_hash}) failed: {reason}")


# --- Revert data decoding -------------------------------------------------------------------

ERROR_STRING_SELECTOR = function_signature_to_4byte_selector("Error(string)")
PANIC_SELECTOR = function_signature_to_4byte_selector("Panic(uint256)")

# Solidity's panic codes (docs: "Panic via assert and error via require").
PANIC_REASONS = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialized internal function",
}


@dataclass(frozen=True)
class ErrorSpec:
    name: str
    inputs: tuple[dict, ...]
    contracts: tuple[str, ...]


def _artifact_fingerprint() -> tuple:
    # Deferred: bindings raises this module's errors, so it imports this module first.
    from synod.chain import bindings

    return tuple((name, bindings.artifact_mtime_ns(name)) for name in bindings.artifact_names())


@lru_cache(maxsize=4)
def _errors_by_selector(fingerprint: tuple) -> dict[bytes, ErrorSpec]:
    from synod.chain import bindings

    found: dict[bytes, tuple[dict, list[str]]] = {}
    for name, _mtime in fingerprint:
        for entry in bindings.abi(name):
            if entry.get("type") != "error":
                continue
            selector = function_signature_to_4byte_selector(abi_to_signature(entry))
            _spec, declared_by = found.setdefault(selector, (entry, []))
            declared_by.append(name)
    return {
        selector: ErrorSpec(entry["name"], tuple(entry["inputs"]), tuple(contracts))
        for selector, (entry, contracts) in found.items()
    }


def known_errors() -> dict[bytes, ErrorSpec]:
    """4-byte selector -> custom error, from every compiled artifact."""
    return _errors_by_selector(_artifact_fingerprint())


def decode_revert(data: bytes | str | None) -> ContractRevert:
    """The exception for raw revert data (bytes or 0x hex)."""
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x"))
    data = bytes(data or b"")
    if len(data) < 4:
        return ContractRevert("", data=data)
    selector, payload = data[:4], data[4:]
    try:
        if selector == ERROR_STRING_SELECTOR:
            (message,) = abi_decode(["string"], payload)
            return ContractRevert("Error", {"message": message}, data=data)
        if selector == PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], payload)
            reason = PANIC_REASONS.get(code, "unknown panic code")
            return ContractRevert("Panic", {"code": code, "reason": reason}, data=data)
        spec = known_errors().get(selector)
        if spec is not None:
            values = abi_decode(abi_types(list(spec.inputs)), payload)
            return ContractRevert(
                spec.name,
                named_values(list(spec.inputs), values),
                data=data,
                contracts=spec.contracts,
            )
    except DecodingError:
        pass  # malformed payload for a known selector: report it raw below
    return ContractRevert("", data=data)


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert bytes carried by a web3 error, or None when it is not a revert."""
    data: Any = None
    if isinstance(exc, ContractLogicError):
        data = exc.data
    elif isinstance(exc, Web3RPCError):
        error = exc.rpc_response.get("error") if exc.rpc_response else None
        if isinstance(error, dict) and "revert" in str(error.get("message", "")).lower():
            data = error.get("data") or "0x"
    if isinstance(data, dict):
        data = data.get("data") or data.get("result")
    if data is None:
        return None
    if isinstance(data, str):
        # Some nodes append a human message after the hex ("0x..., reason").
        hex_part = data.split(",")[0].strip()
        try:
            return bytes.fromhex(hex_part.removeprefix("0x"))
        except ValueError:
            return b""
    return bytes(data)


def as_contract_revert(exc: BaseException) -> ContractRevert | None:
    """`exc` as a decoded ContractRevert when it is a revert, else None."""
    if isinstance(exc, ContractRevert):
        return exc
    data = revert_data(exc)
    return None if data is None else decode_revert(data)
