"""onnxruntime sessions opened from a model's bytes, on the fastest execution provider this
machine has.

The model is parsed and checked for external data before the runtime sees it (see
onnx_inspect), and the session is built from bytes, so the runtime has no directory to
resolve a file name against. `ModelSession.run` checks the feeds against the inputs the
session itself reports before running."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import onnxruntime as ort

from synod_core.errors import RuntimeFailure, first_line
from synod_core.feeds import validate_feeds
from synod_core.onnx_inspect import TensorSpec, parse_model

CPU = "CPUExecutionProvider"
# Fastest first. CPU is always the last resort: onnxruntime itself places any operator the
# accelerators cannot run on CPU, so it must be in every list.
DEFAULT_PROVIDERS: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    CPU,
)


def choose_providers(
    preferred: Sequence[str] = DEFAULT_PROVIDERS, available: Sequence[str] | None = None
) -> list[str]:
    """The providers of `preferred` that this onnxruntime build has, in the order given,
    with CPU appended when missing."""
    present = set(ort.get_available_providers() if available is None else available)
    chosen = [name for name in dict.fromkeys(preferred) if name in present]
    return [*chosen, CPU] if CPU not in chosen else chosen


@dataclass(frozen=True)
class SessionSettings:
    """How a session runs. The defaults suit serving; evaluation asks for determinism."""

    # Threads inside one operator; 0 lets onnxruntime use every core.
    intra_op_threads: int = 0
    # Threads across independent operators (only with parallel execution).
    inter_op_threads: int = 1
    parallel: bool = False
    # Same bytes out for the same bytes in on this machine and runtime (slower kernels).
    deterministic: bool = False
    # onnxruntime's own log: 3 (errors) keeps per-node fallback warnings out of the logs.
    log_severity: int = 3
    # Per-provider options, e.g. {"TensorrtExecutionProvider": {"trt_fp16_enable": True}}.
    provider_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def session_options(self) -> ort.SessionOptions:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = self.inter_op_threads
        options.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL if self.parallel else ort.ExecutionMode.ORT_SEQUENTIAL
        )
        options.use_deterministic_compute = self.deterministic
        options.log_severity_level = self.log_severity
        return options


_ORT_TENSOR = re.compile(r"^tensor\((\w+)\)$")


def _spec_of(arg: Any) -> TensorSpec:
    """A TensorSpec from an onnxruntime NodeArg ("tensor(float)", [None, 4] or ["N", 4])."""
    match = _ORT_TENSOR.match(arg.type)
    if match is None:
        return TensorSpec(arg.name, arg.type)
    shape = arg.shape if isinstance(arg.shape, list) else []
    return TensorSpec(arg.name, "tensor", match.group(1), list(shape))


class ModelSession:
    """One model loaded on one machine. Safe to share between threads for `run` (onnxruntime
    sessions are); open it once per model and keep it."""

    def __init__(self, session: ort.InferenceSession, requested: list[str]) -> None:
        self._session = session
        self.requested_providers = requested
        self.inputs = [_spec_of(arg) for arg in session.get_inputs()]
        self.outputs = [_spec_of(arg) for arg in session.get_outputs()]

    @property
    def providers(self) -> list[str]:
        """The providers the session runs on, fastest first (any requested one that could
        not start on this machine is missing here)."""
        return list(self._session.get_providers())

    @property
    def provider(self) -> str:
        """The execution provider in use: the first, which takes every node it supports."""
        return self.providers[0]

    @property
    def session(self) -> ort.InferenceSession:
        return self._session

    def run(
        self,
        feeds: Mapping[str, Any],
        output_names: Sequence[str] | None = None,
        *,
        validate: bool = True,
    ) -> dict[str, Any]:
        """The model's outputs by name for `feeds` (numpy arrays by input name). InvalidInput
        when the feeds do not fit the declared inputs, RuntimeFailure when onnxruntime fails."""
        if validate:
            validate_feeds(self.inputs, feeds)
        names = list(output_names) if output_names else [spec.name for spec in self.outputs]
        try:
            values = self._session.run(names, dict(feeds))
        except Exception as exc:
            raise RuntimeFailure(f"onnxruntime failed: {first_line(exc)}") from exc
        return dict(zip(names, values, strict=True))


def open_session(
    model_bytes: bytes,
    *,
    providers: Sequence[str] | None = None,
    settings: SessionSettings | None = None,
    outcome: str = "",
) -> ModelSession:
    """A session for the model given as its bytes. The model is parsed first, so a file
    naming external data is refused (InvalidModel, ending with `outcome`) before onnxruntime
    reads it; `providers` is the preference order, filtered to what this machine has
    (default: TensorRT, CUDA, CPU). RuntimeFailure when onnxruntime cannot load it."""
    parse_model(model_bytes, outcome=outcome)
    settings = settings or SessionSettings()
    chosen = choose_providers(DEFAULT_PROVIDERS if providers is None else providers)
    options = [dict(settings.provider_options.get(name, {})) for name in chosen]
    try:
        session = ort.InferenceSession(
            model_bytes,
            settings.session_options(),
            providers=chosen,
            provider_options=options,
        )
    except Exception as exc:
        raise RuntimeFailure(f"onnxruntime could not load the model: {first_line(exc)}") from exc
    return ModelSession(session, chosen)
