"""The job wire format: round trips for any tensors, and strict, bounded decoding of what
comes off the broker."""

from __future__ import annotations

import base64
import contextlib
import json

import numpy as np
import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from synod_core.errors import InvalidJob
from synod_core.jobs import (
    ALLOWED_DTYPES,
    ERROR_CODES,
    InferenceJob,
    InferenceResult,
    JobError,
    Tensor,
    Timings,
    WireLimits,
    job_id_bytes,
    tensors_hash,
)
from synod_core.receipts import Receipt, SignedReceipt

SHA = "ab" * 32
identifiers = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,40}", fullmatch=True)
tensor_names = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20)
arrays = st.sampled_from(ALLOWED_DTYPES).flatmap(
    lambda dtype: hnp.arrays(
        dtype=np.dtype(dtype),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    )
)
tensors = st.dictionaries(tensor_names, arrays.map(Tensor.from_array), max_size=4)
jobs = st.builds(
    InferenceJob,
    job_id=identifiers,
    model_sha256=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    inputs=tensors,
    deadline_ms=st.integers(1, 2**53 - 1),
    reservation_id=identifiers,
)
bytes32 = st.binary(min_size=32, max_size=32)
signed_receipts = st.builds(
    SignedReceipt,
    receipt=st.builds(
        Receipt,
        provider=st.just("0x" + "12" * 20),
        model_hash=bytes32,
        job_id=bytes32,
        request_hash=bytes32,
        output_hash=bytes32,
        tickets_charged=st.integers(0, 2**256 - 1),
        served_at=st.integers(0, 2**64 - 1),
    ),
    signature=st.binary(min_size=65, max_size=65),
)
timings = st.builds(
    Timings,
    queued_ms=st.floats(0, 1e9),
    inference_ms=st.floats(0, 1e9),
    total_ms=st.floats(0, 1e9),
    batch_rows=st.integers(0, 10_000),
)
errors = st.builds(JobError, code=st.sampled_from(ERROR_CODES), message=st.text(max_size=200))


@st.composite
def results(draw) -> InferenceResult:
    failed = draw(st.booleans())
    return InferenceResult(
        job_id=draw(identifiers),
        outputs=None if failed else draw(tensors),
        error=draw(errors) if failed else None,
        execution_provider=draw(st.sampled_from(["", "CPUExecutionProvider"])),
        timings=draw(timings),
        receipt=draw(st.none() | signed_receipts),
    )


@settings(max_examples=150, deadline=None)
@given(array=arrays)
def test_a_tensor_keeps_dtype_shape_and_every_bit(array: np.ndarray) -> None:
    tensor = Tensor.from_array(array)
    back = tensor.to_array()
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()  # NaNs and signed zeros included
    assert Tensor.from_json(json.loads(json.dumps(tensor.as_json()))) == tensor


@settings(max_examples=100, deadline=None)
@given(job=jobs)
def test_a_job_round_trips(job: InferenceJob) -> None:
    assert InferenceJob.decode(job.encode()) == job


@settings(max_examples=100, deadline=None)
@given(result=results())
def test_a_result_round_trips(result: InferenceResult) -> None:
    assert InferenceResult.decode(result.encode()) == result


def test_tensors_are_little_endian_base64() -> None:
    tensor = Tensor.from_array(np.array([1, 256], dtype=">u2"))  # big-endian in memory
    assert tensor.dtype == "uint16"
    assert base64.b64decode(tensor.as_json()["data"]) == b"\x01\x00\x00\x01"
    assert tensor.to_array().tolist() == [1, 256]


def test_arrays_that_cannot_travel_are_refused() -> None:
    for array in (np.array(["text"]), np.array([object()]), np.array([1 + 2j])):
        with pytest.raises(InvalidJob, match="cannot travel as a tensor"):
            Tensor.from_array(array)


def test_receipt_fields_for_a_job() -> None:
    first = {"x": Tensor.from_array(np.arange(3, dtype=np.float32))}
    reordered = {"b": Tensor.from_array(np.zeros(1)), "a": Tensor.from_array(np.ones(1))}
    assert len(tensors_hash(first)) == 32
    assert tensors_hash(reordered) == tensors_hash(dict(reversed(reordered.items())))
    assert tensors_hash(first) != tensors_hash(
        {"x": Tensor.from_array(np.arange(3, dtype=np.float64))}
    )
    assert job_id_bytes("job-1") == keccak(text="job-1")


# --- strict decoding -------------------------------------------------------------------------


def valid_job() -> dict:
    return InferenceJob(
        job_id="job-1",
        model_sha256=SHA,
        inputs={"x": Tensor.from_array(np.arange(6, dtype=np.float32).reshape(2, 3))},
        deadline_ms=1_800_000_000_000,
        reservation_id="res-9",
    ).as_json()


def tensor_json(**changes) -> dict:
    return valid_job()["inputs"]["x"] | changes


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d | {"version": 2}, "version 2 is not supported"),
        (lambda d: d | {"version": 2, "new_field": 1}, "version 2 is not supported"),
        (lambda d: d | {"version": True}, "version unknown is not supported"),
        (lambda d: d | {"kind": "synod.inference-result"}, "this message is a"),
        (lambda d: d | {"surprise": 1}, "unknown field(s) ['surprise']"),
        (lambda d: {k: v for k, v in d.items() if k != "deadline_ms"}, "missing field(s)"),
        (lambda d: d | {"deadline_ms": 1.5}, "deadline_ms must be a positive integer"),
        (lambda d: d | {"deadline_ms": True}, "deadline_ms must be a positive integer"),
        (lambda d: d | {"deadline_ms": -1}, "deadline_ms must be a positive integer"),
        (lambda d: d | {"job_id": "../etc/passwd"}, "job_id: expected an identifier"),
        (lambda d: d | {"job_id": "x" * 200}, "job_id: expected an identifier"),
        (lambda d: d | {"model_sha256": SHA.upper()}, "64 lowercase hex digits"),
        (lambda d: d | {"reservation_id": 7}, "reservation_id: expected an identifier"),
        (lambda d: d | {"inputs": []}, "expected an object of named tensors"),
        (lambda d: d | {"inputs": {"\n": tensor_json()}}, "printable ASCII"),
        (lambda d: d | {"inputs": {"x": tensor_json(dtype="object")}}, "dtype must be one of"),
        (lambda d: d | {"inputs": {"x": tensor_json(dtype="<f4")}}, "dtype must be one of"),
        (lambda d: d | {"inputs": {"x": tensor_json(shape=[3, 3])}}, "base64 of exactly 36"),
        (lambda d: d | {"inputs": {"x": tensor_json(shape=[2, -3])}}, "non-negative integers"),
        (lambda d: d | {"inputs": {"x": tensor_json(shape=[2, 3.0])}}, "non-negative integers"),
        (lambda d: d | {"inputs": {"x": tensor_json(shape=[True, 6])}}, "non-negative integers"),
        (lambda d: d | {"inputs": {"x": tensor_json(shape="2,3")}}, "shape must be a list"),
        (lambda d: d | {"inputs": {"x": tensor_json(shape=[1] * 9)}}, "at most 8 sizes"),
        (
            lambda d: d | {"inputs": {"x": tensor_json(shape=[2**20, 2**20])}},
            "over the limit",
        ),
        (lambda d: d | {"inputs": {"x": tensor_json(data="!" * 32)}}, "not valid base64"),
        (
            lambda d: d | {"inputs": {"x": tensor_json(data=" " + "A" * 31)}},
            "not valid base64",
        ),
        (lambda d: d | {"inputs": {"x": tensor_json(data=7)}}, "data must be the base64"),
        (lambda d: d | {"inputs": {"x": tensor_json(extra=1)}}, "unknown field(s) ['extra']"),
        (
            lambda d: d | {"inputs": {"x": {"dtype": "bool", "shape": [2], "data": "AAI="}}},
            "bool data may only hold bytes 0 and 1",
        ),
    ],
)
def test_a_job_breaking_the_format_is_refused(mutate, fragment: str) -> None:
    message = json.dumps(mutate(valid_job())).encode()
    with pytest.raises(InvalidJob) as refused:
        InferenceJob.decode(message)
    assert fragment in str(refused.value)


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[1, 2]", "expected an object"),
        (b'{"kind": "synod.inference-job", "kind": "x"}', "duplicate field 'kind'"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_messages_that_are_not_jobs_are_refused(message: bytes, fragment: str) -> None:
    with pytest.raises(InvalidJob, match=fragment):
        InferenceJob.decode(message)


def test_nan_and_infinity_are_not_json_numbers() -> None:
    result = InferenceResult("job-1", error=JobError("internal", "x")).as_json()
    result["timings"]["total_ms"] = "NaN"
    text = json.dumps(result).replace('"NaN"', "NaN")
    with pytest.raises(InvalidJob, match="NaN is not a JSON number"):
        InferenceResult.decode(text)


def test_limits_are_enforced_before_parsing_and_per_tensor() -> None:
    job = valid_job()
    small = WireLimits(max_message_bytes=100)
    with pytest.raises(InvalidJob, match="message over 100 bytes"):
        InferenceJob.decode(json.dumps(job), small)
    with pytest.raises(InvalidJob, match="over the limit of 16"):
        InferenceJob.decode(json.dumps(job), WireLimits(max_tensor_bytes=16))
    two = job | {"inputs": {"x": job["inputs"]["x"], "y": job["inputs"]["x"]}}
    with pytest.raises(InvalidJob, match="2 tensors is over the limit of 1"):
        InferenceJob.decode(json.dumps(two), WireLimits(max_tensors=1))
    with pytest.raises(InvalidJob, match="tensors over 30 bytes in all"):
        InferenceJob.decode(json.dumps(two), WireLimits(max_total_bytes=30))
    with pytest.raises(InvalidJob, match="tensor names are 1 to 4"):
        InferenceJob.decode(
            json.dumps(job | {"inputs": {"long_name": job["inputs"]["x"]}}),
            WireLimits(max_name_length=4),
        )


def test_a_result_holds_outputs_or_an_error_never_both() -> None:
    with pytest.raises(InvalidJob, match="either outputs or an error"):
        InferenceResult("job-1")
    with pytest.raises(InvalidJob, match="either outputs or an error"):
        InferenceResult("job-1", outputs={}, error=JobError("internal", "x"))
    both = InferenceResult("job-1", outputs={}).as_json() | {
        "error": {"code": "internal", "message": "x"}
    }
    with pytest.raises(InvalidJob, match="exactly one of outputs and error"):
        InferenceResult.decode(json.dumps(both))


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            lambda d: d | {"outputs": None, "error": {"code": "oops", "message": ""}},
            "code must be one of",
        ),
        (
            lambda d: d | {"outputs": None, "error": {"code": "internal", "message": "x" * 3000}},
            "message must be text of at most 2000",
        ),
        (lambda d: d | {"timings": d["timings"] | {"total_ms": -1}}, "total_ms must be from 0"),
        (lambda d: d | {"timings": d["timings"] | {"total_ms": "1"}}, "total_ms must be a number"),
        (lambda d: d | {"execution_provider": "CPU Provider!"}, "expected a name"),
        (lambda d: d | {"receipt": {"receipt": {}, "signature": "0x"}}, "receipt"),
    ],
)
def test_a_result_breaking_the_format_is_refused(mutate, fragment: str) -> None:
    result = InferenceResult(
        "job-1", outputs={"y": Tensor.from_array(np.ones(2, np.float32))}
    ).as_json()
    with pytest.raises(InvalidJob) as refused:
        InferenceResult.decode(json.dumps(mutate(result)))
    assert fragment in str(refused.value)


def test_an_unknown_error_code_cannot_be_made() -> None:
    with pytest.raises(InvalidJob, match="error code 'oops'"):
        JobError("oops", "")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    job=jobs,
    key=st.sampled_from(["job_id", "inputs", "deadline_ms", "model_sha256", "version"]),
    value=json_values,
)
def test_any_field_replaced_by_any_json_is_refused_or_read_never_crashes(job, key, value) -> None:
    with contextlib.suppress(InvalidJob):
        InferenceJob.decode(json.dumps(job.as_json() | {key: value}))


@settings(max_examples=200, deadline=None)
@given(job=jobs, data=st.data())
def test_corrupted_bytes_are_refused_or_read_never_crash(job, data) -> None:
    message = bytearray(job.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(message) - 1))
        message[index] = data.draw(st.integers(0, 255))
    with contextlib.suppress(InvalidJob):
        InferenceJob.decode(bytes(message))
