"""Feeds checked against a model's declared inputs, from arrays, plain values and dataset
columns, with messages that name the input and what it expects."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from synod_core.errors import IncompatibleInputs, InvalidInput
from synod_core.feeds import (
    FeedPlan,
    describe,
    feeds_from_values,
    load_tokenizer,
    plan_feed,
    sequence_length,
    tabular_feeds,
    token_feeds,
    validate_feeds,
)
from synod_core.onnx_inspect import TensorSpec

FEATURES = TensorSpec("x", "tensor", "float", ["N", 4])
TOKENS = [
    TensorSpec("input_ids", "tensor", "int64", ["batch", "sequence"]),
    TensorSpec("attention_mask", "tensor", "int64", ["batch", "sequence"]),
]
NUMERIC_COLUMNS = {"f0": "double", "f1": "double", "f2": "int64", "label": "int64"}


def test_what_an_input_expects_reads_like_numpy() -> None:
    assert describe(FEATURES) == "float32 with shape [N, 4]"
    assert describe(TensorSpec("m", "tensor", "double", [None, 2])) == "float64 with shape [?, 2]"
    assert describe(TensorSpec("s", "tensor", "string", [])) == "string of any shape"
    assert describe(TensorSpec("q", "seq(tensor(float))")) == "seq(tensor(float))"


def test_fitting_feeds_pass() -> None:
    validate_feeds([FEATURES], {"x": np.zeros((3, 4), np.float32)})
    validate_feeds([FEATURES], {"x": np.zeros((0, 4), np.float32)})
    validate_feeds(
        TOKENS, {name: np.ones((2, 7), np.int64) for name in ("input_ids", "attention_mask")}
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            np.zeros((3, 4), np.float64),
            "input 'x' expects float32 with shape [N, 4]; got float64 with shape [3, 4] "
            "(wrong dtype).",
        ),
        (
            np.zeros((3, 5), np.float32),
            "input 'x' expects float32 with shape [N, 4]; got float32 with shape [3, 5] "
            "(axis 1 must be 4).",
        ),
        (
            np.zeros((4,), np.float32),
            "input 'x' expects float32 with shape [N, 4]; got float32 with shape [4] "
            "(rank 1 instead of 2).",
        ),
        (
            np.array([["a", "b", "c", "d"]]),
            "input 'x' expects float32 with shape [N, 4]; got string with shape [1, 4] "
            "(wrong dtype).",
        ),
    ],
)
def test_a_bad_input_is_named_with_what_it_expects(value: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_feeds([FEATURES], {"x": value})
    assert str(refused.value) == message


def test_missing_and_unexpected_inputs_are_named() -> None:
    with pytest.raises(
        InvalidInput, match=r"missing input\(s\) 'x' \(float32 with shape \[N, 4\]\)"
    ):
        validate_feeds([FEATURES], {})
    with pytest.raises(InvalidInput, match=r"unexpected input\(s\) 'y'; the model takes 'x'"):
        validate_feeds([FEATURES], {"x": np.zeros((1, 4), np.float32), "y": np.zeros(1)})


def test_a_list_is_not_an_array() -> None:
    with pytest.raises(InvalidInput, match="got a list, not an array"):
        validate_feeds([FEATURES], {"x": [[1.0, 2.0, 3.0, 4.0]]})


def test_axes_sharing_a_name_must_agree_across_inputs() -> None:
    feeds = {"input_ids": np.ones((3, 7), np.int64), "attention_mask": np.ones((2, 7), np.int64)}
    with pytest.raises(InvalidInput) as refused:
        validate_feeds(TOKENS, feeds)
    assert str(refused.value) == (
        "input 'attention_mask' expects int64 with shape [batch, sequence]; got int64 with "
        "shape [2, 7] (axis 0 is 'batch', which is 3 in input 'input_ids')."
    )


def test_an_undeclared_rank_is_not_checked() -> None:
    validate_feeds([TensorSpec("x", "tensor", "float", [])], {"x": np.zeros((2, 2), np.float32)})


def test_inputs_numpy_cannot_feed_are_refused() -> None:
    with pytest.raises(InvalidInput, match="bfloat16 tensors, which cannot be fed"):
        validate_feeds([TensorSpec("b", "tensor", "bfloat16", [1])], {"b": np.zeros(1, np.float32)})
    with pytest.raises(InvalidInput, match=r"is a seq\(tensor\(float\)\)"):
        validate_feeds([TensorSpec("q", "seq(tensor(float))")], {"q": np.zeros(1, np.float32)})


# --- plain values ----------------------------------------------------------------------------


def test_values_become_arrays_of_the_declared_dtype() -> None:
    feeds = feeds_from_values([FEATURES], {"x": [[1, 2, 3, 4], [0.5, 0, 0, 1]]})
    assert feeds["x"].dtype == np.float32 and feeds["x"].shape == (2, 4)

    ids = TensorSpec("ids", "tensor", "int64", ["batch"])
    assert feeds_from_values([ids], {"ids": [1, 2]})["ids"].dtype == np.int64
    flags = TensorSpec("flags", "tensor", "bool", [2])
    assert feeds_from_values([flags], {"flags": [True, False]})["flags"].tolist() == [True, False]
    text = TensorSpec("text", "tensor", "string", ["batch"])
    assert feeds_from_values([text], {"text": ["a", "b"]})["text"].dtype == object


@pytest.mark.parametrize(
    ("spec", "value", "fragment"),
    [
        (
            TensorSpec("ids", "tensor", "int64", ["b"]),
            [1.5, 2.0],
            "floating-point values, not integers",
        ),
        (
            TensorSpec("ids", "tensor", "int8", ["b"]),
            [1, 300],
            "values from 1 to 300, outside int8",
        ),
        (TensorSpec("ids", "tensor", "uint8", ["b"]), [-1], "outside uint8"),
        (TensorSpec("x", "tensor", "float", ["b"]), ["1.0"], "string values, not numbers"),
        (TensorSpec("x", "tensor", "float", ["b"]), [1e300], "too large for float32"),
        (TensorSpec("f", "tensor", "bool", ["b"]), [1, 0], "int64 values, not booleans"),
        (TensorSpec("s", "tensor", "string", ["b"]), [1, 2], "int64 values, not strings"),
        (TensorSpec("x", "tensor", "float", ["b", 2]), [[1, 2], [3]], "unequal lengths"),
        (TensorSpec("x", "tensor", "float", ["b", 2]), [[1, 2, 3]], "(axis 1 must be 2)"),
    ],
)
def test_values_that_would_change_meaning_are_refused(
    spec: TensorSpec, value: object, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        feeds_from_values([spec], {spec.name: value})
    assert fragment in str(refused.value)
    assert str(refused.value).startswith(f"input {spec.name!r} expects")


# --- dataset columns -------------------------------------------------------------------------


def test_a_matrix_plan_stacks_the_columns_in_their_declared_order() -> None:
    spec = TensorSpec("features", "tensor", "float", ["batch", 3])
    plan = plan_feed(
        task="classification",
        inputs=[spec],
        input_columns=["f0", "f1", "f2"],
        label_column="label",
        column_types=NUMERIC_COLUMNS,
        has_tokenizer=False,
    )
    assert plan == FeedPlan(
        "matrix", {"features": ["f0", "f1", "f2"]}, {"features": "float"}, {"features": 2}
    )
    feeds = tabular_feeds({"f0": [1.0, 2.0], "f1": np.array([3.0, 4.0]), "f2": [5, 6]}, plan)
    assert feeds["features"].dtype == np.float32
    assert feeds["features"].tolist() == [[1, 3, 5], [2, 4, 6]]
    validate_feeds([spec], feeds)


def test_a_per_column_plan_feeds_each_column_by_name() -> None:
    inputs = [
        TensorSpec("f0", "tensor", "double", ["batch", 1]),
        TensorSpec("f2", "tensor", "int64", ["batch"]),
    ]
    plan = plan_feed(
        task="regression",
        inputs=inputs,
        input_columns=["f0", "f2"],
        label_column="label",
        column_types=NUMERIC_COLUMNS,
        has_tokenizer=False,
    )
    assert plan.mode == "per_column"
    feeds = tabular_feeds({"f0": [1.0, 2.0], "f2": [7, 8]}, plan)
    assert feeds["f0"].shape == (2, 1) and feeds["f2"].shape == (2,)
    validate_feeds(inputs, feeds)


@pytest.mark.parametrize(
    ("inputs", "columns", "message"),
    [
        (
            [TensorSpec("features", "tensor", "float", ["batch", 4])],
            ["f0", "f1", "f2"],
            "takes 4 float feature(s) per row",
        ),
        (
            [TensorSpec("features", "tensor", "int64", ["batch", 2])],
            ["f0", "f1"],
            "takes int64 integers, but dataset column 'f0' holds double",
        ),
        (
            [TensorSpec("a", "tensor", "float", ["batch"])],
            ["f0"],
            "do not match the dataset's input columns",
        ),
        (
            [
                TensorSpec("f0", "tensor", "float", ["batch", 2]),
                TensorSpec("f1", "tensor", "float", ["b"]),
            ],
            ["f0", "f1"],
            "a per-column input must be [batch] or [batch, 1]",
        ),
    ],
)
def test_what_does_not_fit_is_said(inputs, columns, message) -> None:
    with pytest.raises(IncompatibleInputs) as refused:
        plan_feed(
            task="classification",
            inputs=inputs,
            input_columns=columns,
            label_column="label",
            column_types=NUMERIC_COLUMNS,
            has_tokenizer=False,
        )
    assert message in str(refused.value)


def test_labels_are_checked_by_task() -> None:
    spec = [TensorSpec("features", "tensor", "float", ["batch", 1])]
    with pytest.raises(IncompatibleInputs, match="needs a dataset with a label column"):
        plan_feed(
            task="classification", inputs=spec, input_columns=["f0"], label_column="",
            column_types=NUMERIC_COLUMNS, has_tokenizer=False,
        )  # fmt: skip
    with pytest.raises(IncompatibleInputs, match="regression label must be numeric"):
        plan_feed(
            task="regression", inputs=spec, input_columns=["f0"], label_column="name",
            column_types={**NUMERIC_COLUMNS, "name": "string"}, has_tokenizer=False,
        )  # fmt: skip


TEXT_COLUMNS = {"a": "string", "b": "large_string", "label": "int64"}


def test_a_text_plan_needs_token_inputs_two_text_columns_and_a_tokenizer() -> None:
    plan = plan_feed(
        task="embedding", inputs=TOKENS, input_columns=["a", "b"], label_column="label",
        column_types=TEXT_COLUMNS, has_tokenizer=True,
    )  # fmt: skip
    assert plan.mode == "text" and set(plan.columns) == {"input_ids", "attention_mask"}
    with pytest.raises(IncompatibleInputs, match=r"needs its tokenizer\.json"):
        plan_feed(
            task="embedding", inputs=TOKENS, input_columns=["a", "b"], label_column="label",
            column_types=TEXT_COLUMNS, has_tokenizer=False,
        )  # fmt: skip
    with pytest.raises(IncompatibleInputs, match="takes token inputs"):
        plan_feed(
            task="embedding", inputs=[FEATURES], input_columns=["a", "b"], label_column="",
            column_types=TEXT_COLUMNS, has_tokenizer=True,
        )  # fmt: skip
    with pytest.raises(IncompatibleInputs, match="exactly two text input columns"):
        plan_feed(
            task="embedding", inputs=TOKENS, input_columns=["a", "label"], label_column="",
            column_types=TEXT_COLUMNS, has_tokenizer=True,
        )  # fmt: skip


def test_token_feeds_take_what_the_plan_names() -> None:
    plan = FeedPlan(
        "text",
        {"input_ids": ["a", "b"], "attention_mask": ["a", "b"]},
        {"input_ids": "int64", "attention_mask": "int32"},
        {"input_ids": 2, "attention_mask": 2},
    )
    encoding = SimpleNamespace(ids=[5, 6, 0], attention_mask=[1, 1, 0], type_ids=[0, 0, 0])
    tokenizer = SimpleNamespace(encode_batch=lambda texts: [encoding for _ in texts])
    feeds = token_feeds(tokenizer, ["x", "y"], plan)
    assert set(feeds) == {"input_ids", "attention_mask"}
    assert feeds["input_ids"].tolist() == [[5, 6, 0], [5, 6, 0]]
    assert feeds["attention_mask"].dtype == np.int32


def test_a_tokenizer_pads_to_the_models_sequence_length(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocabulary = {"[PAD]": 0, "[UNK]": 1, "hello": 2, "world": 3}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))

    fixed = [TensorSpec("input_ids", "tensor", "int64", ["batch", 5])]
    assert sequence_length(fixed) == 5 and sequence_length(TOKENS) is None
    loaded = load_tokenizer(path, sequence_length(fixed))
    plan = FeedPlan("text", {"input_ids": ["a", "b"]}, {"input_ids": "int64"}, {"input_ids": 2})
    feeds = token_feeds(loaded, ["hello world", "hello there world again and again"], plan)
    assert feeds["input_ids"].tolist() == [[2, 3, 0, 0, 0], [2, 1, 3, 1, 1]]

    dynamic = load_tokenizer(path, None)
    feeds = token_feeds(dynamic, ["hello", "hello world world"], plan)
    assert feeds["input_ids"].tolist() == [[2, 0, 0], [2, 3, 3]]
