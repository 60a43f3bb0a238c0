"""Does a model's input signature fit a dataset's declared input columns? The answer is a
plan for feeding the columns to the model, or IncompatibleModel naming what does not fit.

Tabular models (classification, regression) take either one rank-2 tensor holding every
input column in the declared order ([batch, k]), or one tensor per column, named after it.
Text embedding models take token ids (input_ids, and optionally attention_mask and
token_type_ids) produced by the model's tokenizer from the dataset's two text columns."""

from __future__ import annotations

from dataclasses import dataclass

from synod.registry.errors import IncompatibleModel
from synod.registry.models import ModelTask
from synod.registry.onnx_inspect import FLOAT_TYPES, INT_TYPES, TensorSpec
from synod.registry.tables import is_integer_type, is_numeric_type, is_text_type

TOKEN_INPUTS = {"input_ids", "attention_mask", "token_type_ids"}


@dataclass(frozen=True)
class FeedPlan:
    mode: str  # "matrix" | "per_column" | "text"
    # input name -> the column(s) it takes, in order
    columns: dict[str, list[str]]
    elem_types: dict[str, str]
    ranks: dict[str, int]


def _column_fits(elem_type: str, column: str, arrow_type: str, input_name: str) -> None:
    if elem_type in FLOAT_TYPES and not is_numeric_type(arrow_type):
        raise IncompatibleModel(
            f"Model input {input_name!r} takes {elem_type} numbers, but dataset column "
            f"{column!r} holds {arrow_type}."
        )
    if elem_type in INT_TYPES and not is_integer_type(arrow_type):
        raise IncompatibleModel(
            f"Model input {input_name!r} takes {elem_type} integers, but dataset column "
            f"{column!r} holds {arrow_type}; casting would lose information."
        )
    if elem_type == "string" and not is_text_type(arrow_type):
        raise IncompatibleModel(
            f"Model input {input_name!r} takes strings, but dataset column {column!r} "
            f"holds {arrow_type}."
        )
    if elem_type not in FLOAT_TYPES | INT_TYPES | {"string", "bool"}:
        raise IncompatibleModel(
            f"Model input {input_name!r} has element type {elem_type}, which no dataset column "
            "can feed."
        )


def _tabular_plan(
    inputs: list[TensorSpec], input_columns: list[str], column_types: dict[str, str]
) -> FeedPlan:
    non_tensor = [spec.name for spec in inputs if spec.type != "tensor"]
    if non_tensor:
        raise IncompatibleModel(f"Model inputs {non_tensor} are not tensors.")
    if len(inputs) == 1 and len(inputs[0].shape) == 2:
        spec = inputs[0]
        width = spec.shape[1]
        if isinstance(width, int) and width != len(input_columns):
            raise IncompatibleModel(
                f"Model input {spec.name!r} takes {width} {spec.elem_type} feature(s) per row "
                f"(shape {spec.shape}), but the dataset declares {len(input_columns)} input "
                f"column(s): {', '.join(input_columns)}."
            )
        for column in input_columns:
            _column_fits(spec.elem_type, column, column_types[column], spec.name)
        return FeedPlan(
            mode="matrix",
            columns={spec.name: list(input_columns)},
            elem_types={spec.name: spec.elem_type},
            ranks={spec.name: 2},
        )
    names = {spec.name for spec in inputs}
    if names != set(input_columns):
        raise IncompatibleModel(
            f"Model inputs {sorted(names)} do not match the dataset's input columns "
            f"{sorted(input_columns)}: a tabular model takes one [batch, k] tensor, or one "
            "tensor per column named after it."
        )
    for spec in inputs:
        if len(spec.shape) not in (1, 2) or (len(spec.shape) == 2 and spec.shape[1] not in (1,)):
            raise IncompatibleModel(
                f"Model input {spec.name!r} has shape {spec.shape}; a per-column input must be "
                "[batch] or [batch, 1]."
            )
        _column_fits(spec.elem_type, spec.name, column_types[spec.name], spec.name)
    return FeedPlan(
        mode="per_column",
        columns={spec.name: [spec.name] for spec in inputs},
        elem_types={spec.name: spec.elem_type for spec in inputs},
        ranks={spec.name: len(spec.shape) for spec in inputs},
    )


def _text_plan(
    inputs: list[TensorSpec],
    input_columns: list[str],
    column_types: dict[str, str],
    has_tokenizer: bool,
) -> FeedPlan:
    names = {spec.name for spec in inputs}
    if "input_ids" not in names or not names <= TOKEN_INPUTS:
        raise IncompatibleModel(
            f"A text embedding model takes token inputs (input_ids, optionally attention_mask "
            f"and token_type_ids); this one takes {sorted(names)}."
        )
    for spec in inputs:
        if spec.elem_type not in {"int64", "int32"} or len(spec.shape) != 2:
            raise IncompatibleModel(
                f"Model input {spec.name!r} must be int64 or int32 of shape [batch, sequence]; "
                f"it is {spec.elem_type} {spec.shape}."
            )
    if len(input_columns) != 2 or not all(is_text_type(column_types[c]) for c in input_columns):
        described = ", ".join(f"{c} ({column_types[c]})" for c in input_columns)
        raise IncompatibleModel(
            "An embedding evaluation needs a dataset of sentence pairs: exactly two text input "
            f"columns; this dataset declares {described}."
        )
    if not has_tokenizer:
        raise IncompatibleModel("A text embedding model needs its tokenizer.json uploaded with it.")
    return FeedPlan(
        mode="text",
        columns={spec.name: list(input_columns) for spec in inputs},
        elem_types={spec.name: spec.elem_type for spec in inputs},
        ranks={spec.name: 2 for spec in inputs},
    )


def _check_label(task: str, label_column: str, column_types: dict[str, str]) -> None:
    if task in (ModelTask.CLASSIFICATION, ModelTask.REGRESSION) and not label_column:
        raise IncompatibleModel(f"A {task} evaluation needs a dataset with a label column.")
    if task == ModelTask.REGRESSION and not is_numeric_type(column_types[label_column]):
        raise IncompatibleModel(
            f"A regression label must be numeric; column {label_column!r} holds "
            f"{column_types[label_column]}."
        )
    if (
        task == ModelTask.EMBEDDING
        and label_column
        and not is_numeric_type(column_types[label_column])
    ):
        raise IncompatibleModel(
            f"An embedding dataset's label marks similar pairs with 1 and dissimilar ones "
            f"with 0; column {label_column!r} holds {column_types[label_column]}."
        )


def plan_feed(
    *,
    task: str,
    inputs: list[TensorSpec],
    input_columns: list[str],
    label_column: str,
    column_types: dict[str, str],
    has_tokenizer: bool,
) -> FeedPlan:
    _check_label(task, label_column, column_types)
    if task == ModelTask.EMBEDDING:
        return _text_plan(inputs, input_columns, column_types, has_tokenizer)
    return _tabular_plan(inputs, input_columns, column_types)
