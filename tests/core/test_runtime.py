"""Sessions from bytes on the preferred execution providers this machine has."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from synod_core.errors import InvalidInput, InvalidModel, RuntimeFailure
from synod_core.onnx_inspect import TensorSpec
from synod_core.runtime import (
    CPU,
    DEFAULT_PROVIDERS,
    SessionSettings,
    choose_providers,
    open_session,
)

from . import onnx_models

ROWS = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 4.0, -1.0]], np.float32)


def test_the_preference_is_filtered_to_what_is_available_in_order() -> None:
    everything = ["CUDAExecutionProvider", CPU, "TensorrtExecutionProvider"]
    assert choose_providers(available=everything) == list(DEFAULT_PROVIDERS)
    assert choose_providers(available=["CUDAExecutionProvider", CPU]) == [
        "CUDAExecutionProvider",
        CPU,
    ]
    assert choose_providers(available=[CPU, "AzureExecutionProvider"]) == [CPU]
    # CPU closes every list: it runs whatever the accelerators cannot.
    assert choose_providers(["CUDAExecutionProvider"], available=everything) == [
        "CUDAExecutionProvider",
        CPU,
    ]
    assert choose_providers([CPU, CPU, "CUDAExecutionProvider"], available=everything) == [
        CPU,
        "CUDAExecutionProvider",
    ]


def test_the_default_asks_onnxruntime_what_it_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU, "CUDAExecutionProvider"])
    assert choose_providers() == ["CUDAExecutionProvider", CPU]


def test_a_session_runs_and_returns_named_outputs() -> None:
    session = open_session(onnx_models.linear_classifier())
    assert session.inputs == [TensorSpec("features", "tensor", "float", ["batch", 3])]
    assert [spec.name for spec in session.outputs] == ["label", "scores"]
    assert session.provider == session.providers[0]
    assert session.provider in ort.get_available_providers()

    outputs = session.run({"features": ROWS})
    labels, scores = onnx_models.classify(ROWS)
    assert list(outputs) == ["label", "scores"]
    assert outputs["label"].tolist() == labels.tolist() == [0, 1, 2]
    np.testing.assert_allclose(outputs["scores"], scores, rtol=1e-6)
    assert list(session.run({"features": ROWS}, ["scores"])) == ["scores"]


def test_on_this_machine_the_provider_in_use_is_the_best_available() -> None:
    session = open_session(onnx_models.linear_classifier())
    assert session.provider == choose_providers()[0]
    assert session.requested_providers == choose_providers()


def test_providers_this_machine_lacks_fall_back_to_cpu() -> None:
    session = open_session(onnx_models.linear_classifier(), providers=["NoSuchExecutionProvider"])
    assert session.providers == [CPU]


@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers(),
    reason="needs onnxruntime-gpu and a CUDA device",
)
def test_a_gpu_session_reports_cuda_or_tensorrt() -> None:
    session = open_session(onnx_models.linear_classifier())
    assert session.provider in ("TensorrtExecutionProvider", "CUDAExecutionProvider")
    assert session.run({"features": ROWS})["label"].tolist() == [0, 1, 2]


def test_thread_settings_reach_the_session() -> None:
    settings = SessionSettings(intra_op_threads=2, inter_op_threads=1, deterministic=True)
    session = open_session(onnx_models.linear_classifier(), settings=settings)
    options = session.session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.inter_op_num_threads == 1
    assert options.use_deterministic_compute
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL


def test_feeds_are_checked_before_the_runtime_sees_them() -> None:
    session = open_session(onnx_models.linear_classifier())
    with pytest.raises(InvalidInput, match=r"expects float32 with shape \[batch, 3\]"):
        session.run({"features": ROWS.astype(np.float64)})
    with pytest.raises(InvalidInput, match="missing input"):
        session.run({})


def test_runtime_errors_become_runtime_failures() -> None:
    session = open_session(onnx_models.linear_classifier())
    with pytest.raises(RuntimeFailure, match="onnxruntime failed"):
        session.run({"features": ROWS.astype(np.float64)}, validate=False)


def test_a_model_with_external_data_never_reaches_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "weights.bin").write_bytes(onnx_models.WEIGHTS.tobytes())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidModel, match=r"single self-contained file.*\. It was not run\.$"):
        open_session(
            onnx_models.classifier_with_external_weights("weights.bin"),
            outcome="It was not run.",
        )


def test_a_model_the_runtime_cannot_load_is_a_runtime_failure() -> None:
    with pytest.raises(RuntimeFailure, match="onnxruntime could not load the model"):
        open_session(onnx_models.unsupported_operator_model())


def test_shared_symbolic_axes_are_checked_across_inputs() -> None:
    session = open_session(onnx_models.token_model())
    ids = np.array([[5, 6, 7]], np.int64)
    assert session.run({"input_ids": ids, "attention_mask": np.array([[1, 1, 0]])})[
        "hidden"
    ].tolist() == [[5.0, 6.0, 0.0]]
    with pytest.raises(InvalidInput, match="which is 3 in input 'input_ids'"):
        session.run({"input_ids": ids, "attention_mask": np.ones((1, 4), np.int64)})
