"""Batching: stacking requests, splitting outputs back, chunking and padding, with property
tests for any sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synod_core.batching import (
    chunk_feeds,
    chunk_ranges,
    pad_rows,
    rows_of,
    split_outputs,
    stack_feeds,
)
from synod_core.errors import InvalidInput
from synod_core.runtime import open_session

from . import onnx_models

trailing_shapes = st.lists(st.integers(1, 3), max_size=2).map(tuple)
dtypes = st.sampled_from([np.float32, np.int64, np.float64, np.uint8, np.bool_])


def request(index: int, rows: int, shape: tuple[int, ...], dtype) -> dict[str, np.ndarray]:
    """A request whose every value says which request and row it came from."""
    base = np.arange(rows * max(1, math.prod(shape))).reshape(rows, *shape) % 50
    tag = np.full((rows,), index, np.int64)
    return {"x": (base + index).astype(dtype), "who": np.stack([tag, np.arange(rows)], axis=1)}


def model(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A stand-in model: one output per row, each depending on that row only."""
    rows = len(batch["x"])
    return {
        "same": batch["x"],
        "who": batch["who"] * 1,
        "total": batch["x"]
        .reshape(rows, math.prod(batch["x"].shape[1:]))
        .astype(float)
        .sum(axis=1),
    }


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 12), min_size=1, max_size=8),
    shape=trailing_shapes,
    dtype=dtypes,
)
def test_every_caller_gets_exactly_its_own_rows(sizes, shape, dtype) -> None:
    requests = [request(i, n, shape, dtype) for i, n in enumerate(sizes)]
    batch, counted = stack_feeds(requests)
    assert counted == sizes
    assert rows_of(batch) == sum(sizes)

    answers = split_outputs(model(batch), counted)

    assert len(answers) == len(requests)
    for index, (mine, asked) in enumerate(zip(answers, requests, strict=True)):
        expected = model(asked)
        assert set(mine) == set(expected)
        for name, value in expected.items():
            assert mine[name].shape == value.shape
            np.testing.assert_array_equal(mine[name], value)
        # Row by row, each tagged with its own request and in its own order.
        assert mine["who"][:, 0].tolist() == [index] * sizes[index]
        assert mine["who"][:, 1].tolist() == list(range(sizes[index]))


@settings(max_examples=150, deadline=None)
@given(total=st.integers(0, 500), size=st.integers(1, 64))
def test_chunks_cover_every_row_once_in_order(total: int, size: int) -> None:
    ranges = chunk_ranges(total, size)
    assert len(ranges) == math.ceil(total / size)
    assert [start for start, _ in ranges] == list(range(0, total, size))
    covered = [row for start, stop in ranges for row in range(start, stop)]
    assert covered == list(range(total))
    assert all(0 < stop - start <= size for start, stop in ranges)


@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 100), size=st.integers(1, 40), shape=trailing_shapes)
def test_chunked_feeds_put_back_together_are_the_input(rows, size, shape) -> None:
    feeds = request(0, rows, shape, np.float32)
    chunks = list(chunk_feeds(feeds, size))
    assert all(rows_of(chunk) <= size for chunk in chunks)
    for name, value in feeds.items():
        np.testing.assert_array_equal(np.concatenate([c[name] for c in chunks]), value)


@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 9), target=st.integers(1, 12))
def test_padding_repeats_the_last_row_and_only_grows(rows: int, target: int) -> None:
    feeds = request(0, rows, (2,), np.int64)
    padded = pad_rows(feeds, target)
    assert rows_of(padded) == max(rows, target)
    for name, value in feeds.items():
        np.testing.assert_array_equal(padded[name][:rows], value)
        for extra in padded[name][rows:]:
            np.testing.assert_array_equal(extra, value[-1])


def test_a_real_model_batched_answers_each_request_as_alone() -> None:
    session = open_session(onnx_models.linear_classifier())
    rng = np.random.default_rng(3)
    requests = [{"features": rng.normal(size=(n, 3)).astype(np.float32) * 3} for n in (1, 4, 0, 7)]
    batch, sizes = stack_feeds(requests)
    answers = split_outputs(session.run(batch), sizes)
    for mine, asked in zip(answers, requests, strict=True):
        alone = session.run(asked)
        assert mine["label"].tolist() == alone["label"].tolist()
        np.testing.assert_allclose(mine["scores"], alone["scores"], rtol=1e-5, atol=1e-6)


def test_requests_that_cannot_share_a_batch_are_refused() -> None:
    a = {"x": np.zeros((2, 3), np.float32)}
    with pytest.raises(InvalidInput, match="request 1 has float32 rows of shape \\[4\\]"):
        stack_feeds([a, {"x": np.zeros((1, 4), np.float32)}])
    with pytest.raises(InvalidInput, match="request 1 has float64 rows"):
        stack_feeds([a, {"x": np.zeros((1, 3), np.float64)}])
    with pytest.raises(InvalidInput, match="request 1 names inputs"):
        stack_feeds([a, {"y": np.zeros((1, 3), np.float32)}])
    with pytest.raises(InvalidInput, match="no requests"):
        stack_feeds([])


def test_inputs_disagreeing_on_rows_or_without_rows_are_refused() -> None:
    with pytest.raises(InvalidInput, match="disagree on the number of rows"):
        rows_of({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(InvalidInput, match="is a scalar"):
        rows_of({"a": np.float32(1.0)})
    with pytest.raises(InvalidInput, match="no inputs"):
        rows_of({})


def test_outputs_without_one_row_per_input_row_cannot_be_split() -> None:
    with pytest.raises(InvalidInput, match="output 'pooled' has 1 rows for a batch of 3"):
        split_outputs({"pooled": np.zeros((1, 4))}, [1, 2])
    with pytest.raises(InvalidInput, match="output 'count' has no rows"):
        split_outputs({"count": np.int64(3)}, [1, 2])


def test_bad_chunk_sizes_and_empty_padding_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        chunk_ranges(10, 0)
    with pytest.raises(InvalidInput, match="empty batch cannot be padded"):
        pad_rows({"x": np.zeros((0, 3))}, 4)
