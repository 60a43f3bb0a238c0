"""Revert data decoded into the contracts' named custom errors.

Every compiled artifact contributes its `error` ABI entries, so a revert raised by any
contract (or a library it inherits, like OpenZeppelin's ERC20 errors) gets its name and
arguments back, e.g. `PromptTicketPaymentTooSmall(paid=1, price=1000)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import function_signature_to_4byte_selector
from eth_utils.abi import abi_to_signature
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from synod.chain import bindings
from synod.chain.codec import abi_types, named_values

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


class ContractRevert(Exception):
    """A contract call reverted. `name` is the Solidity error name ("Error" for
    require-with-message, "Panic" for assert/arithmetic, "" when no data came back),
    `args` its decoded arguments by parameter name, `data` the raw revert bytes."""

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

    # Exposed as `.args` (the natural name for callers); the message stays in the
    # exception's own C-level args, which repr() and tracebacks use.
    @property
    def args(self) -> dict[str, Any]:  # type: ignore[override]
        return self.arguments

    def __reduce__(self):
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


def _rebuild_revert(name, arguments, data, contracts) -> ContractRevert:
    return ContractRevert(name, arguments, data=data, contracts=contracts)


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return value if Web3.is_address(value) else repr(value)
    return str(value)


@dataclass(frozen=True)
class ErrorSpec:
    name: str
    inputs: tuple[dict, ...]
    contracts: tuple[str, ...]


def _artifact_fingerprint() -> tuple:
    return tuple((name, bindings.artifact_mtime_ns(name)) for name in bindings.artifact_names())


@lru_cache(maxsize=4)
def _errors_by_selector(fingerprint: tuple) -> dict[bytes, ErrorSpec]:
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
