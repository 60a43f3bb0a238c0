"""Batching as pure functions over numpy arrays, axis 0 being the rows.

Several requests for one model are stacked into one batch (`stack_feeds`), run once, and the
outputs cut back so each request gets exactly its own rows (`split_outputs`). A long input
is cut into batches of at most N rows (`chunk_ranges`, `chunk_feeds`); a model exported for
a fixed batch size gets its last batch padded (`pad_rows`) and the padding cut off again."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from synod_core.errors import InvalidInput


def rows_of(feeds: Mapping[str, Any]) -> int:
    """The common row count (size of axis 0) of every array in `feeds`; InvalidInput when
    they disagree or one has no axis 0."""
    counts = {}
    for name, value in feeds.items():
        if np.ndim(value) == 0:
            raise InvalidInput(f"input {name!r} is a scalar; a batched input needs rows (axis 0).")
        counts[name] = len(value)
    if not counts:
        raise InvalidInput("no inputs: a batch needs at least one.")
    if len(set(counts.values())) > 1:
        described = ", ".join(f"{name!r} has {n}" for name, n in counts.items())
        raise InvalidInput(f"inputs disagree on the number of rows: {described}.")
    return next(iter(counts.values()))


def stack_feeds(requests: Sequence[Mapping[str, Any]]) -> tuple[dict[str, np.ndarray], list[int]]:
    """One batch made of every request's rows, in order, and each request's row count (what
    `split_outputs` needs). Every request must name the same inputs, and each input must
    have the same dtype and the same shape past axis 0 in every request."""
    if not requests:
        raise InvalidInput("no requests to batch.")
    names = list(requests[0])
    sizes: list[int] = []
    for index, feeds in enumerate(requests):
        if set(feeds) != set(names):
            raise InvalidInput(
                f"request {index} names inputs {sorted(feeds)}, request 0 names {sorted(names)}."
            )
        sizes.append(rows_of(feeds))
    batch: dict[str, np.ndarray] = {}
    for name in names:
        parts = [np.asarray(feeds[name]) for feeds in requests]
        first = parts[0]
        for index, part in enumerate(parts):
            if part.dtype != first.dtype or part.shape[1:] != first.shape[1:]:
                raise InvalidInput(
                    f"input {name!r} cannot be batched: request {index} has {part.dtype} rows of "
                    f"shape {list(part.shape[1:])}, request 0 has {first.dtype} rows of shape "
                    f"{list(first.shape[1:])}."
                )
        batch[name] = np.concatenate(parts, axis=0)
    return batch, sizes


def split_outputs(outputs: Mapping[str, Any], sizes: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """`outputs` of a stacked batch cut back into one dict per request, request i getting
    rows sum(sizes[:i]) up to sum(sizes[:i + 1]) of every output. InvalidInput when an
    output does not have one row per input row (it cannot be attributed to requests)."""
    if any(size < 0 for size in sizes):
        raise InvalidInput("row counts cannot be negative.")
    total = sum(sizes)
    offsets = np.cumsum([0, *sizes])
    arrays = {}
    for name, value in outputs.items():
        array = value if isinstance(value, np.ndarray) else None
        if array is None or array.ndim == 0 or len(array) != total:
            got = "no rows" if array is None or array.ndim == 0 else f"{len(array)} rows"
            raise InvalidInput(
                f"output {name!r} has {got} for a batch of {total} rows, so it cannot be split "
                "between requests."
            )
        arrays[name] = array
    return [
        {name: array[offsets[i] : offsets[i + 1]] for name, array in arrays.items()}
        for i in range(len(sizes))
    ]


def chunk_ranges(total: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of consecutive batches of at most `size` rows covering `total` rows."""
    if size < 1:
        raise ValueError(f"a batch holds at least one row, not {size}")
    if total < 0:
        raise ValueError(f"a row count cannot be negative ({total})")
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def chunk_feeds(feeds: Mapping[str, Any], size: int) -> Iterator[dict[str, Any]]:
    """`feeds` cut into consecutive batches of at most `size` rows (views, not copies)."""
    for start, stop in chunk_ranges(rows_of(feeds), size):
        yield {name: value[start:stop] for name, value in feeds.items()}


def pad_rows(feeds: Mapping[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    """`feeds` grown to `rows` rows with copies of the last row, for a model exported with a
    fixed batch size; the caller cuts the outputs back to the real rows."""
    have = rows_of(feeds)
    if have >= rows:
        return dict(feeds)
    if have == 0:
        raise InvalidInput("an empty batch cannot be padded (there is no row to repeat).")
    return {
        name: np.concatenate([value, np.repeat(value[-1:], rows - have, axis=0)])
        for name, value in feeds.items()
    }
