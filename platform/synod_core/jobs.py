"""The job wire format: an inference job as the platform puts it on the broker, and the
result a provider worker sends back. Both are versioned, JSON-safe dataclasses.

Tensors travel as dtype + shape + base64 of their little-endian bytes. Decoding is strict
and bounded, because messages come off a broker from parties that may be hostile: the size
of the message is checked before it is parsed, every field's type and form is checked,
unknown fields and versions are refused, only plain numeric dtypes are allowed, and a
tensor's byte length must be exactly its shape times its item size, within the limits."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_utils import keccak

from synod_core.errors import InvalidJob, InvalidReceipt
from synod_core.receipts import SignedReceipt

WIRE_VERSION = 1
JOB_KIND = "synod.inference-job"
RESULT_KIND = "synod.inference-result"

# numpy dtype names allowed on the wire. Strings and objects are left out: their bytes are
# not a fixed-size little-endian layout, and object arrays would be unpickled.
ALLOWED_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)

ERROR_CODES = (
    "invalid_input",  # the inputs do not fit the model's signature
    "model_unavailable",  # the provider does not have the model or could not load it
    "model_not_approved",  # the model's hash is not approved on chain
    "deadline_exceeded",  # the deadline passed before the job could run
    "overloaded",  # the provider refused the job for lack of capacity
    "runtime_error",  # onnxruntime failed while running it
    "internal",  # anything else; the message says what
)

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# ONNX names are free text; printable ASCII keeps logs and error messages readable.
_TENSOR_NAME = re.compile(r"[ -~]+")
_PROVIDER = re.compile(r"[A-Za-z0-9]{0,64}")

MiB = 1024 * 1024


@dataclass(frozen=True)
class WireLimits:
    """Bounds on what a decoder accepts; a worker may lower them for its hardware."""

    max_message_bytes: int = 96 * MiB
    max_tensors: int = 64
    max_rank: int = 8
    max_name_length: int = 128
    max_tensor_bytes: int = 32 * MiB
    max_total_bytes: int = 64 * MiB
    max_error_message_length: int = 2000


DEFAULT_LIMITS = WireLimits()


def _fail(where: str, why: str) -> InvalidJob:
    return InvalidJob(f"{where}: {why}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expect_object(data: Any, where: str, keys: set[str]) -> None:
    """`data` is an object with exactly `keys`: an unknown field is refused rather than
    ignored, since a newer sender's meaning for it would be lost silently."""
    if not isinstance(data, dict):
        raise _fail(where, f"expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - keys)
    if unknown:
        raise _fail(where, f"unknown field(s) {unknown}")
    missing = sorted(keys - set(data))
    if missing:
        raise _fail(where, f"missing field(s) {missing}")


def _expect_text(value: Any, where: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _fail(where, f"expected {what}")
    return value


# --- tensors ---------------------------------------------------------------------------------


def _wire_dtype(name: str) -> np.dtype:
    return np.dtype(name).newbyteorder("<")


@dataclass(frozen=True)
class Tensor:
    """One named input or output: `data` holds the elements in C order, little-endian."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    def __post_init__(self) -> None:
        if self.dtype not in ALLOWED_DTYPES:
            raise InvalidJob(f"dtype {self.dtype!r} is not one of {', '.join(ALLOWED_DTYPES)}.")
        object.__setattr__(self, "shape", tuple(self.shape))
        if not all(_is_int(dim) and dim >= 0 for dim in self.shape):
            raise InvalidJob(f"shape {list(self.shape)} must be non-negative integers.")
        expected = math.prod(self.shape) * np.dtype(self.dtype).itemsize
        if len(self.data) != expected:
            raise InvalidJob(
                f"a {self.dtype} tensor of shape {list(self.shape)} is {expected} bytes, "
                f"not {len(self.data)}."
            )

    @property
    def nbytes(self) -> int:
        return len(self.data)

    @classmethod
    def from_array(cls, array: Any) -> Tensor:
        array = np.asarray(array)
        if array.dtype.name not in ALLOWED_DTYPES:
            raise InvalidJob(
                f"a {array.dtype} array cannot travel as a tensor; allowed dtypes are "
                f"{', '.join(ALLOWED_DTYPES)}."
            )
        little = np.ascontiguousarray(array, dtype=_wire_dtype(array.dtype.name))
        return cls(array.dtype.name, tuple(int(d) for d in array.shape), little.tobytes())

    def to_array(self) -> np.ndarray:
        """A read-only array over the bytes (no copy on little-endian machines)."""
        array = np.frombuffer(self.data, dtype=_wire_dtype(self.dtype)).reshape(self.shape)
        return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))

    def as_json(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "data": base64.b64encode(self.data).decode("ascii"),
        }

    @classmethod
    def from_json(
        cls, data: Any, limits: WireLimits = DEFAULT_LIMITS, where: str = "tensor"
    ) -> Tensor:
        _expect_object(data, where, {"dtype", "shape", "data"})
        dtype, shape, encoded = data["dtype"], data["shape"], data["data"]
        if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
            raise _fail(where, f"dtype must be one of {', '.join(ALLOWED_DTYPES)}")
        if not isinstance(shape, list) or len(shape) > limits.max_rank:
            raise _fail(where, f"shape must be a list of at most {limits.max_rank} sizes")
        if not all(_is_int(dim) and 0 <= dim <= limits.max_tensor_bytes for dim in shape):
            raise _fail(where, "shape sizes must be non-negative integers")
        # Checked on the declared shape before decoding anything, so a huge shape or a huge
        # string costs nothing; the product of at most max_rank bounded ints is exact.
        expected = math.prod(shape) * np.dtype(dtype).itemsize
        if expected > limits.max_tensor_bytes:
            raise _fail(where, f"{expected} bytes is over the limit of {limits.max_tensor_bytes}")
        if not isinstance(encoded, str) or len(encoded) != 4 * math.ceil(expected / 3):
            raise _fail(where, f"data must be the base64 of exactly {expected} bytes")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _fail(where, "data is not valid base64") from exc
        if len(raw) != expected:
            raise _fail(where, f"data must be the base64 of exactly {expected} bytes")
        if dtype == "bool" and raw.strip(b"\x00\x01"):
            # numpy would read any other byte as a bool that is neither True nor False.
            raise _fail(where, "bool data may only hold bytes 0 and 1")
        return cls(dtype, tuple(shape), raw)


def _tensors_from_json(
    data: Any, limits: WireLimits, where: str, total: list[int]
) -> dict[str, Tensor]:
    if not isinstance(data, dict):
        raise _fail(where, "expected an object of named tensors")
    if len(data) > limits.max_tensors:
        raise _fail(where, f"{len(data)} tensors is over the limit of {limits.max_tensors}")
    tensors: dict[str, Tensor] = {}
    for name, value in data.items():
        if len(name) > limits.max_name_length or not _TENSOR_NAME.fullmatch(name):
            raise _fail(
                where,
                f"tensor names are 1 to {limits.max_name_length} printable ASCII characters",
            )
        tensor = Tensor.from_json(value, limits, f"{where}[{name!r}]")
        total[0] += tensor.nbytes
        if total[0] > limits.max_total_bytes:
            raise _fail(where, f"tensors over {limits.max_total_bytes} bytes in all")
        tensors[name] = tensor
    return tensors


def tensors_hash(tensors: Mapping[str, Tensor]) -> bytes:
    """keccak256 of the tensors' canonical JSON (sorted names): the receipt's requestHash
    for a job's inputs and outputHash for a result's outputs."""
    canonical = {name: tensors[name].as_json() for name in sorted(tensors)}
    return keccak(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode())


def job_id_bytes(job_id: str) -> bytes:
    """The receipt's bytes32 jobId for a wire job id."""
    return keccak(text=job_id)


# --- strict JSON -----------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Two readers could each take a different one of the two values.
            raise InvalidJob(f"duplicate field {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise InvalidJob(f"{name} is not a JSON number")


def _parse(message: bytes | str, limits: WireLimits, kind: str) -> Any:
    if len(message) > limits.max_message_bytes:
        raise InvalidJob(f"{kind}: message over {limits.max_message_bytes} bytes")
    try:
        data = json.loads(message, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError as exc:  # deeply nested arrays exhaust the parser's stack
        raise InvalidJob(f"{kind}: nested too deeply") from exc
    except ValueError as exc:  # UnicodeDecodeError included
        raise InvalidJob(f"{kind}: not JSON ({exc})") from exc
    return data


def _check_header(data: Any, kind: str) -> None:
    """Kind and version first, before any other field: a newer version's message must be
    refused for its version, not for the fields this one does not know."""
    if not isinstance(data, dict):
        raise _fail(kind, f"expected an object, got {type(data).__name__}")
    if data.get("kind") != kind:
        found = data.get("kind")
        shown = found[:40] if isinstance(found, str) else type(found).__name__
        raise _fail(kind, f"this message is a {shown!r}")
    version = data.get("version")
    if not _is_int(version) or version != WIRE_VERSION:
        shown = str(version) if _is_int(version) and abs(version) < 10**9 else "unknown"
        raise _fail(kind, f"version {shown} is not supported (this reader knows {WIRE_VERSION})")


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


# --- the job ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InferenceJob:
    job_id: str
    model_sha256: str  # sha256 of the ONNX file: which model, and what the queue is named for
    inputs: dict[str, Tensor]
    deadline_ms: int  # unix epoch milliseconds; a result after it is of no use
    # The caller's reservation in the ledger; it doubles as the idempotency key, so a job
    # delivered twice is served (and charged) once.
    reservation_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": JOB_KIND,
            "version": WIRE_VERSION,
            "job_id": self.job_id,
            "model_sha256": self.model_sha256,
            "inputs": {name: tensor.as_json() for name, tensor in self.inputs.items()},
            "deadline_ms": self.deadline_ms,
            "reservation_id": self.reservation_id,
        }

    def encode(self) -> bytes:
        return _dump(self.as_json())

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: tensor.to_array() for name, tensor in self.inputs.items()}

    def expired(self, now_ms: int) -> bool:
        return now_ms > self.deadline_ms

    @classmethod
    def from_json(cls, data: Any, limits: WireLimits = DEFAULT_LIMITS) -> InferenceJob:
        where = JOB_KIND
        keys = {"kind", "version", "job_id", "model_sha256", "inputs", "deadline_ms"}
        _check_header(data, JOB_KIND)
        _expect_object(data, where, keys | {"reservation_id"})
        deadline = data["deadline_ms"]
        if not _is_int(deadline) or not 0 < deadline < 2**53:
            raise _fail(where, "deadline_ms must be a positive integer of milliseconds")
        return cls(
            job_id=_expect_text(data["job_id"], f"{where}.job_id", _IDENTIFIER, "an identifier"),
            model_sha256=_expect_text(
                data["model_sha256"], f"{where}.model_sha256", _SHA256, "64 lowercase hex digits"
            ),
            inputs=_tensors_from_json(data["inputs"], limits, f"{where}.inputs", [0]),
            deadline_ms=deadline,
            reservation_id=_expect_text(
                data["reservation_id"], f"{where}.reservation_id", _IDENTIFIER, "an identifier"
            ),
        )

    @classmethod
    def decode(cls, message: bytes | str, limits: WireLimits = DEFAULT_LIMITS) -> InferenceJob:
        return cls.from_json(_parse(message, limits, JOB_KIND), limits)


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobError:
    code: str  # one of ERROR_CODES
    message: str  # for the caller; never a path or a secret of the provider's machine

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:
            raise InvalidJob(f"error code {self.code!r} is not one of {', '.join(ERROR_CODES)}.")

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    @classmethod
    def from_json(cls, data: Any, limits: WireLimits = DEFAULT_LIMITS) -> JobError:
        where = f"{RESULT_KIND}.error"
        _expect_object(data, where, {"code", "message"})
        if data["code"] not in ERROR_CODES:
            raise _fail(where, f"code must be one of {', '.join(ERROR_CODES)}")
        message = data["message"]
        if not isinstance(message, str) or len(message) > limits.max_error_message_length:
            raise _fail(where, f"message must be text of at most {limits.max_error_message_length}")
        return cls(data["code"], message)


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent by the job on the provider."""

    queued_ms: float = 0.0  # from arrival on the worker until its batch started
    inference_ms: float = 0.0  # running the batch it was part of
    total_ms: float = 0.0  # from arrival until the result was sent
    batch_rows: int = 0  # rows in that batch, this job's and others' (0: never ran)

    def as_json(self) -> dict[str, Any]:
        return {
            "queued_ms": self.queued_ms,
            "inference_ms": self.inference_ms,
            "total_ms": self.total_ms,
            "batch_rows": self.batch_rows,
        }

    @classmethod
    def from_json(cls, data: Any) -> Timings:
        where = f"{RESULT_KIND}.timings"
        _expect_object(data, where, {"queued_ms", "inference_ms", "total_ms", "batch_rows"})
        values: dict[str, Any] = {}
        for name in ("queued_ms", "inference_ms", "total_ms"):
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail(where, f"{name} must be a number")
            if not 0 <= value < 1e12:
                raise _fail(where, f"{name} must be from 0 to 1e12")
            values[name] = float(value)
        if not _is_int(data["batch_rows"]) or not 0 <= data["batch_rows"] < 2**31:
            raise _fail(where, "batch_rows must be a non-negative integer")
        return cls(**values, batch_rows=data["batch_rows"])


@dataclass(frozen=True)
class InferenceResult:
    """Outputs or an error, never both."""

    job_id: str
    outputs: dict[str, Tensor] | None = None
    error: JobError | None = None
    execution_provider: str = ""  # e.g. CUDAExecutionProvider; empty when it never ran
    timings: Timings = field(default_factory=Timings)
    receipt: SignedReceipt | None = None

    def __post_init__(self) -> None:
        if (self.outputs is None) == (self.error is None):
            raise InvalidJob("a result holds either outputs or an error.")

    @property
    def ok(self) -> bool:
        return self.error is None

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: tensor.to_array() for name, tensor in (self.outputs or {}).items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": RESULT_KIND,
            "version": WIRE_VERSION,
            "job_id": self.job_id,
            "outputs": None
            if self.outputs is None
            else {name: tensor.as_json() for name, tensor in self.outputs.items()},
            "error": None if self.error is None else self.error.as_json(),
            "execution_provider": self.execution_provider,
            "timings": self.timings.as_json(),
            "receipt": None if self.receipt is None else self.receipt.as_json(),
        }

    def encode(self) -> bytes:
        return _dump(self.as_json())

    @classmethod
    def from_json(cls, data: Any, limits: WireLimits = DEFAULT_LIMITS) -> InferenceResult:
        where = RESULT_KIND
        keys = {"kind", "version", "job_id", "outputs", "error", "execution_provider"}
        _check_header(data, RESULT_KIND)
        _expect_object(data, where, keys | {"timings", "receipt"})
        outputs = _optional(
            data["outputs"],
            lambda v: _tensors_from_json(v, limits, f"{where}.outputs", [0]),
        )
        error = _optional(data["error"], lambda v: JobError.from_json(v, limits))
        if (outputs is None) == (error is None):
            raise _fail(where, "exactly one of outputs and error must be given")
        try:
            receipt = _optional(data["receipt"], SignedReceipt.from_json)
        except InvalidReceipt as exc:
            raise _fail(f"{where}.receipt", str(exc)) from exc
        return cls(
            job_id=_expect_text(data["job_id"], f"{where}.job_id", _IDENTIFIER, "an identifier"),
            outputs=outputs,
            error=error,
            execution_provider=_expect_text(
                data["execution_provider"], f"{where}.execution_provider", _PROVIDER, "a name"
            ),
            timings=Timings.from_json(data["timings"]),
            receipt=receipt,
        )

    @classmethod
    def decode(cls, message: bytes | str, limits: WireLimits = DEFAULT_LIMITS) -> InferenceResult:
        return cls.from_json(_parse(message, limits, RESULT_KIND), limits)


def _optional(value: Any, read: Callable[[Any], Any]) -> Any:
    return None if value is None else read(value)
