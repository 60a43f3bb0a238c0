"""ABI values to Python and to JSON and back, driven by the ABI's parameter types.

Python values: ints as int, addresses as checksummed str, bytes as bytes, structs as dicts
keyed by component name, arrays as lists. JSON values are the same except bytes (0x hex)
and ints outside JavaScript's safe range (decimal strings), so a JSONField never loses
precision; `from_json` turns them back into the Python form.
"""

from __future__ import annotations

import re
from typing import Any

from eth_utils import to_checksum_address
from eth_utils.abi import collapse_if_tuple

JS_SAFE_INT = 2**53 - 1
_ARRAY_SUFFIX = re.compile(r"\[\d*\]$")


def abi_types(params: list[dict]) -> list[str]:
    return [collapse_if_tuple(p) for p in params]


def _element_param(param: dict) -> dict:
    """The parameter describing one element of an array parameter."""
    return {**param, "type": _ARRAY_SUFFIX.sub("", param["type"], count=1)}


def to_python(param: dict, value: Any) -> Any:
    """One value as eth_abi decoded it for `param`, in the Python form."""
    abi_type = param["type"]
    if _ARRAY_SUFFIX.search(abi_type):
        element = _element_param(param)
        return [to_python(element, v) for v in value]
    if abi_type == "tuple":
        return named_values(param["components"], value)
    if abi_type == "address":
        return to_checksum_address(value)
    return value


def named_values(params: list[dict], values: tuple | list) -> dict[str, Any]:
    """Decoded values keyed by parameter name (unnamed ones by position: "_0", "_1", ...)."""
    return {
        (param.get("name") or f"_{position}"): to_python(param, value)
        for position, (param, value) in enumerate(zip(params, values, strict=True))
    }


def to_json(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -JS_SAFE_INT <= value <= JS_SAFE_INT else str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {key: to_json(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(param: dict, value: Any) -> Any:
    """Inverse of `to_json` for a value of `param`'s type."""
    abi_type = param["type"]
    if _ARRAY_SUFFIX.search(abi_type):
        element = _element_param(param)
        return [from_json(element, v) for v in value]
    if abi_type == "tuple":
        return named_json_to_python(param["components"], value)
    if abi_type.startswith(("uint", "int")):
        return int(value)
    if abi_type.startswith("bytes"):
        return bytes.fromhex(value.removeprefix("0x"))
    return value


def named_json_to_python(params: list[dict], values: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for position, param in enumerate(params):
        key = param.get("name") or f"_{position}"
        result[key] = from_json(param, values[key])
    return result
