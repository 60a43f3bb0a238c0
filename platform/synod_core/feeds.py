"""Input feeds for a model, and checks that they fit its declared inputs.

Three ways in: columns of a dataset (evaluation: `plan_feed` decides which columns feed which
input, `tabular_feeds` / `token_feeds` build the arrays), plain values such as JSON lists
(`feeds_from_values`), and ready arrays (`validate_feeds` only). Every path ends in the same
check of names, dtype, rank and fixed dims against the model's signature, so a bad input is
refused with a message naming the input and what it expects, before onnxruntime sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synod_core.errors import IncompatibleInputs, InvalidInput
from synod_core.onnx_inspect import FLOAT_TYPES, INT_TYPES, TensorSpec

# ONNX element type names (as TensorSpec.elem_type holds them) -> numpy dtypes. bfloat16 has
# no numpy dtype, so such inputs cannot be fed from Python at all.
NUMPY_DTYPES: dict[str, Any] = {
    "float": np.float32,
    "double": np.float64,
    "float16": np.float16,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "bool": np.bool_,
    "string": object,
}

TASK_CLASSIFICATION = "classification"
TASK_REGRESSION = "regression"
TASK_EMBEDDING = "embedding"

TOKEN_INPUTS = {"input_ids", "attention_mask", "token_type_ids"}

# Arrow type names, as a dataset's profile declares its columns.
NUMERIC_COLUMN_TYPES = {
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "halffloat",
    "float",
    "double",
}
# uint64 is left out: its values above 2**63 do not fit the int64 most models take.
INTEGER_COLUMN_TYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
TEXT_COLUMN_TYPES = {"string", "large_string", "utf8", "large_utf8"}


def is_numeric_type(arrow_type: str) -> bool:
    return arrow_type in NUMERIC_COLUMN_TYPES


def is_integer_type(arrow_type: str) -> bool:
    return arrow_type in INTEGER_COLUMN_TYPES


def is_text_type(arrow_type: str) -> bool:
    return arrow_type in TEXT_COLUMN_TYPES


# --- describing expectations --------------------------------------------------------------


def dtype_name(elem_type: str) -> str:
    """The numpy name people know for an ONNX element type: float -> float32."""
    if elem_type == "string":
        return "string"
    dtype = NUMPY_DTYPES.get(elem_type)
    return np.dtype(dtype).name if dtype is not None else elem_type


def numpy_dtype(spec: TensorSpec) -> np.dtype:
    """The numpy dtype that feeds `spec`; InvalidInput for element types numpy lacks."""
    if spec.type != "tensor":
        raise InvalidInput(f"input {spec.name!r} is a {spec.type}, which can only be fed tensors.")
    if spec.elem_type not in NUMPY_DTYPES:
        raise InvalidInput(
            f"input {spec.name!r} takes {spec.elem_type} tensors, which cannot be fed from "
            "Python (numpy has no such dtype)."
        )
    return np.dtype(NUMPY_DTYPES[spec.elem_type])


def _shape_text(shape: Sequence[int | str | None]) -> str:
    return "[" + ", ".join("?" if dim is None else str(dim) for dim in shape) + "]"


def describe(spec: TensorSpec) -> str:
    """What an input expects, e.g. "float32 with shape [N, 4]"."""
    if spec.type != "tensor":
        return spec.type
    if not spec.shape:
        return f"{dtype_name(spec.elem_type)} of any shape"
    return f"{dtype_name(spec.elem_type)} with shape {_shape_text(spec.shape)}"


def _got(value: np.ndarray) -> str:
    kind = "string" if value.dtype.kind in "OUS" else value.dtype.name
    return f"{kind} with shape {list(value.shape)}"


def _refuse(spec: TensorSpec, value: np.ndarray, why: str) -> InvalidInput:
    return InvalidInput(f"input {spec.name!r} expects {describe(spec)}; got {_got(value)} ({why}).")


# --- the check every feed goes through -------------------------------------------------------


def _dtype_fits(spec: TensorSpec, value: np.ndarray) -> bool:
    if spec.elem_type == "string":
        # onnxruntime takes numpy str arrays and object arrays of str alike.
        return value.dtype.kind in "OU"
    return value.dtype == numpy_dtype(spec)


def validate_feeds(inputs: Sequence[TensorSpec], feeds: Mapping[str, Any]) -> None:
    """Raise InvalidInput unless `feeds` holds exactly one numpy array per declared input,
    each with the declared dtype and rank, the declared size on every fixed axis, and the
    same size wherever two axes share a symbolic name (a batch of 3 input_ids and 2
    attention masks would otherwise fail deep inside the runtime)."""
    declared = {spec.name: spec for spec in inputs}
    missing = [name for name in declared if name not in feeds]
    if missing:
        described = "; ".join(f"{name!r} ({describe(declared[name])})" for name in missing)
        raise InvalidInput(f"missing input(s) {described}.")
    unexpected = sorted(name for name in feeds if name not in declared)
    if unexpected:
        raise InvalidInput(
            f"unexpected input(s) {', '.join(map(repr, unexpected))}; the model takes "
            f"{', '.join(map(repr, declared))}."
        )
    bound: dict[str, tuple[int, str]] = {}  # symbolic dim -> (size, input that set it)
    for spec in inputs:
        value = feeds[spec.name]
        if not isinstance(value, np.ndarray):
            raise InvalidInput(
                f"input {spec.name!r} expects {describe(spec)}; got a {type(value).__name__}, "
                "not an array."
            )
        if not _dtype_fits(spec, value):
            raise _refuse(spec, value, "wrong dtype")
        if not spec.shape:
            continue  # a scalar or an undeclared rank: the file does not say which
        if value.ndim != len(spec.shape):
            raise _refuse(spec, value, f"rank {value.ndim} instead of {len(spec.shape)}")
        for axis, (want, size) in enumerate(zip(spec.shape, value.shape, strict=True)):
            if isinstance(want, int) and want >= 0 and size != want:
                raise _refuse(spec, value, f"axis {axis} must be {want}")
            if isinstance(want, str) and want:
                seen = bound.setdefault(want, (size, spec.name))
                if seen[0] != size:
                    raise _refuse(
                        spec,
                        value,
                        f"axis {axis} is {want!r}, which is {seen[0]} in input {seen[1]!r}",
                    )


# --- from plain values (JSON lists) ----------------------------------------------------------


def _array_from_value(spec: TensorSpec, value: Any) -> np.ndarray:
    dtype = numpy_dtype(spec)
    try:
        raw = np.asarray(value)
    except ValueError as exc:  # numpy refuses ragged nested lists
        raise InvalidInput(
            f"input {spec.name!r} expects {describe(spec)}; got nested lists of unequal lengths."
        ) from exc
    where = f"input {spec.name!r} expects {describe(spec)}; got"
    if spec.elem_type == "string":
        if raw.size and raw.dtype.kind != "U":
            raise InvalidInput(f"{where} {raw.dtype.name} values, not strings.")
        return raw.astype(object)
    if raw.size == 0:
        return raw.astype(dtype)
    if dtype.kind == "b":
        if raw.dtype.kind != "b":
            raise InvalidInput(f"{where} {raw.dtype.name} values, not booleans.")
        return raw
    if dtype.kind in "iu":
        # Only integers feed integer inputs: 1.5 silently becoming 1 would change the answer.
        if raw.dtype.kind not in "iu":
            raise InvalidInput(f"{where} {_kind_name(raw)} values, not integers.")
        info = np.iinfo(dtype)
        low, high = int(raw.min()), int(raw.max())
        if low < info.min or high > info.max:
            raise InvalidInput(f"{where} values from {low} to {high}, outside {dtype.name}.")
        return raw.astype(dtype)
    if raw.dtype.kind not in "iuf":
        raise InvalidInput(f"{where} {_kind_name(raw)} values, not numbers.")
    with np.errstate(over="ignore"):  # overflow is detected just below, and refused
        converted = raw.astype(dtype)
    if np.isfinite(raw).all() and not np.isfinite(converted).all():
        raise InvalidInput(f"{where} values too large for {dtype.name}.")
    return converted


def _kind_name(raw: np.ndarray) -> str:
    return {"U": "string", "O": "mixed", "b": "boolean", "f": "floating-point"}.get(
        raw.dtype.kind, raw.dtype.name
    )


def feeds_from_values(inputs: Sequence[TensorSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """Arrays for the model built from plain values (nested lists of numbers, booleans or
    strings, as JSON gives them), converted to each input's dtype only where nothing is
    lost, then checked by validate_feeds."""
    declared = {spec.name: spec for spec in inputs}
    feeds = {
        name: _array_from_value(declared[name], value) if name in declared else value
        for name, value in values.items()
    }
    validate_feeds(inputs, feeds)
    return feeds


# --- from a dataset's columns ----------------------------------------------------------------


@dataclass(frozen=True)
class FeedPlan:
    """Which dataset columns feed which model input, decided once from the two signatures."""

    mode: str  # "matrix" | "per_column" | "text"
    # input name -> the column(s) it takes, in order
    columns: dict[str, list[str]]
    elem_types: dict[str, str]
    ranks: dict[str, int]


def _column_fits(elem_type: str, column: str, arrow_type: str, input_name: str) -> None:
    if elem_type in FLOAT_TYPES and not is_numeric_type(arrow_type):
        raise IncompatibleInputs(
            f"Model input {input_name!r} takes {elem_type} numbers, but dataset column "
            f"{column!r} holds {arrow_type}."
        )
    if elem_type in INT_TYPES and not is_integer_type(arrow_type):
        raise IncompatibleInputs(
            f"Model input {input_name!r} takes {elem_type} integers, but dataset column "
            f"{column!r} holds {arrow_type}; casting would lose information."
        )
    if elem_type == "string" and not is_text_type(arrow_type):
        raise IncompatibleInputs(
            f"Model input {input_name!r} takes strings, but dataset column {column!r} "
            f"holds {arrow_type}."
        )
    if elem_type not in FLOAT_TYPES | INT_TYPES | {"string", "bool"}:
        raise IncompatibleInputs(
            f"Model input {input_name!r} has element type {elem_type}, which no dataset column "
            "can feed."
        )


def _tabular_plan(
    inputs: list[TensorSpec], input_columns: list[str], column_types: dict[str, str]
) -> FeedPlan:
    non_tensor = [spec.name for spec in inputs if spec.type != "tensor"]
    if non_tensor:
        raise IncompatibleInputs(f"Model inputs {non_tensor} are not tensors.")
    if len(inputs) == 1 and len(inputs[0].shape) == 2:
        spec = inputs[0]
        width = spec.shape[1]
        if isinstance(width, int) and width != len(input_columns):
            raise IncompatibleInputs(
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
        raise IncompatibleInputs(
            f"Model inputs {sorted(names)} do not match the dataset's input columns "
            f"{sorted(input_columns)}: a tabular model takes one [batch, k] tensor, or one "
            "tensor per column named after it."
        )
    for spec in inputs:
        if len(spec.shape) not in (1, 2) or (len(spec.shape) == 2 and spec.shape[1] not in (1,)):
            raise IncompatibleInputs(
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
        raise IncompatibleInputs(
            f"A text embedding model takes token inputs (input_ids, optionally attention_mask "
            f"and token_type_ids); this one takes {sorted(names)}."
        )
    for spec in inputs:
        if spec.elem_type not in {"int64", "int32"} or len(spec.shape) != 2:
            raise IncompatibleInputs(
                f"Model input {spec.name!r} must be int64 or int32 of shape [batch, sequence]; "
                f"it is {spec.elem_type} {spec.shape}."
            )
    if len(input_columns) != 2 or not all(is_text_type(column_types[c]) for c in input_columns):
        described = ", ".join(f"{c} ({column_types[c]})" for c in input_columns)
        raise IncompatibleInputs(
            "An embedding evaluation needs a dataset of sentence pairs: exactly two text input "
            f"columns; this dataset declares {described}."
        )
    if not has_tokenizer:
        raise IncompatibleInputs(
            "A text embedding model needs its tokenizer.json uploaded with it."
        )
    return FeedPlan(
        mode="text",
        columns={spec.name: list(input_columns) for spec in inputs},
        elem_types={spec.name: spec.elem_type for spec in inputs},
        ranks={spec.name: 2 for spec in inputs},
    )


def _check_label(task: str, label_column: str, column_types: dict[str, str]) -> None:
    if task in (TASK_CLASSIFICATION, TASK_REGRESSION) and not label_column:
        raise IncompatibleInputs(f"A {task} evaluation needs a dataset with a label column.")
    if task == TASK_REGRESSION and not is_numeric_type(column_types[label_column]):
        raise IncompatibleInputs(
            f"A regression label must be numeric; column {label_column!r} holds "
            f"{column_types[label_column]}."
        )
    if task == TASK_EMBEDDING and label_column and not is_numeric_type(column_types[label_column]):
        raise IncompatibleInputs(
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
    """How a dataset's declared columns feed the model, or IncompatibleInputs naming what
    does not fit. Tabular models (classification, regression) take either one rank-2 tensor
    holding every input column in the declared order ([batch, k]) or one tensor per column,
    named after it. Text embedding models take token ids (input_ids, optionally
    attention_mask and token_type_ids) made by the model's tokenizer from two text columns."""
    _check_label(task, label_column, column_types)
    if task == TASK_EMBEDDING:
        return _text_plan(inputs, input_columns, column_types, has_tokenizer)
    return _tabular_plan(inputs, input_columns, column_types)


def tabular_feeds(columns: Mapping[str, Any], plan: FeedPlan) -> dict[str, np.ndarray]:
    """The feed of a tabular plan from column values (arrays or lists, one per column the
    plan names), every row of them."""
    feeds: dict[str, np.ndarray] = {}
    for name, names in plan.columns.items():
        dtype = NUMPY_DTYPES[plan.elem_types[name]]
        arrays = [np.asarray(columns[column]).astype(dtype) for column in names]
        if plan.mode == "matrix":
            feeds[name] = np.column_stack(arrays).astype(dtype)
        else:
            feeds[name] = arrays[0].reshape(-1, 1) if plan.ranks[name] == 2 else arrays[0]
    return feeds


def sequence_length(inputs: Sequence[TensorSpec]) -> int | None:
    """The fixed sequence length a text model declares on input_ids, if any."""
    for spec in inputs:
        if spec.name == "input_ids" and len(spec.shape) == 2 and isinstance(spec.shape[1], int):
            return spec.shape[1]
    return None


def load_tokenizer(path: Path, sequence_length: int | None) -> Any:
    """A `tokenizers` tokenizer from its tokenizer.json, padding and truncating to the
    model's fixed sequence length when it has one (else to the batch's longest text)."""
    # Imported here: only text models need it, and a provider serving tabular models
    # need not install it.
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    if sequence_length:
        tokenizer.enable_truncation(max_length=sequence_length)
        tokenizer.enable_padding(length=sequence_length)
    else:
        if tokenizer.truncation is None:
            tokenizer.enable_truncation(max_length=512)
        padding = tokenizer.padding or {}
        tokenizer.enable_padding(
            pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]")
        )
    return tokenizer


def token_feeds(tokenizer: Any, texts: list[str], plan: FeedPlan) -> dict[str, np.ndarray]:
    """The token inputs a text plan names, for `texts` in one batch."""
    encodings = tokenizer.encode_batch(texts)
    fields = {
        "input_ids": [e.ids for e in encodings],
        "attention_mask": [e.attention_mask for e in encodings],
        "token_type_ids": [e.type_ids for e in encodings],
    }
    return {
        name: np.asarray(fields[name], dtype=NUMPY_DTYPES[plan.elem_types[name]])
        for name in plan.columns
    }
