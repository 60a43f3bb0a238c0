"""Does a model's input signature fit a dataset's declared input columns? The decision is
synod_core.feeds.plan_feed; here its IncompatibleInputs becomes the registry's
IncompatibleModel, with the same message."""

from __future__ import annotations

from synod.registry.errors import IncompatibleModel
from synod_core import feeds
from synod_core.errors import IncompatibleInputs
from synod_core.feeds import FeedPlan
from synod_core.onnx_inspect import TensorSpec

__all__ = ["FeedPlan", "plan_feed"]


def plan_feed(
    *,
    task: str,
    inputs: list[TensorSpec],
    input_columns: list[str],
    label_column: str,
    column_types: dict[str, str],
    has_tokenizer: bool,
) -> FeedPlan:
    try:
        return feeds.plan_feed(
            task=str(task),
            inputs=inputs,
            input_columns=input_columns,
            label_column=label_column,
            column_types=column_types,
            has_tokenizer=has_tokenizer,
        )
    except IncompatibleInputs as exc:
        raise IncompatibleModel(str(exc)) from exc
