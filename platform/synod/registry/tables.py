"""Datasets as Arrow tables: parsing CSV, JSON Lines and Parquet strictly (a truncated or
malformed file is an error, never a silently shorter table) and profiling their columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pa_parquet

from synod.registry.errors import InvalidDatasetFile
from synod.registry.models import DatasetFormat

PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class DatasetProfile:
    row_count: int
    column_types: dict[str, str]


def guess_format(filename: str, head: bytes = b"") -> str | None:
    """The format named by the file's extension, or Parquet by its magic bytes."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return DatasetFormat.CSV
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return DatasetFormat.JSONL
    if lowered.endswith((".parquet", ".pq")) or head.startswith(PARQUET_MAGIC):
        return DatasetFormat.PARQUET
    return None


def read_table(path: Path, fmt: str) -> pa.Table:
    try:
        if fmt == DatasetFormat.CSV:
            return pa_csv.read_csv(path)
        if fmt == DatasetFormat.JSONL:
            # Large blocks: the reader infers types per block, and one block per file keeps
            # inference consistent for every file a registry is likely to hold.
            return pa_json.read_json(path, read_options=pa_json.ReadOptions(block_size=1 << 26))
        if fmt == DatasetFormat.PARQUET:
            return pa_parquet.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0][:400] if str(exc).strip() else type(exc).__name__
        raise InvalidDatasetFile(
            f"The {DatasetFormat(fmt).label} file could not be parsed (truncated or malformed?): "
            f"{reason}. Nothing was stored."
        ) from exc
    raise InvalidDatasetFile(f"Unknown dataset format {fmt!r}.")


def profile_table(
    table: pa.Table, *, input_columns: list[str], label_column: str
) -> DatasetProfile:
    """Check the declared schema against the table; raise InvalidDatasetFile when it does
    not fit."""
    present = table.column_names
    declared = [*input_columns, *([label_column] if label_column else [])]
    missing = [name for name in declared if name not in present]
    if missing:
        raise InvalidDatasetFile(
            f"Declared column(s) {', '.join(map(repr, missing))} are not in the file; it has "
            f"{', '.join(map(repr, present))}. Nothing was stored."
        )
    if len(set(declared)) != len(declared):
        raise InvalidDatasetFile("A column is declared twice (inputs and label must differ).")
    if table.num_rows == 0:
        raise InvalidDatasetFile("The dataset has no rows. Nothing was stored.")
    with_nulls = {
        name: table.column(name).null_count for name in declared if table.column(name).null_count
    }
    if with_nulls:
        detail = ", ".join(f"{name!r} ({count})" for name, count in with_nulls.items())
        raise InvalidDatasetFile(
            f"Declared column(s) have empty values: {detail}. Nothing was stored."
        )
    return DatasetProfile(
        row_count=table.num_rows,
        column_types={f.name: str(f.type) for f in table.schema},
    )


def is_numeric_type(arrow_type: str) -> bool:
    return arrow_type in {
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


def is_integer_type(arrow_type: str) -> bool:
    return arrow_type in {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}


def is_text_type(arrow_type: str) -> bool:
    return arrow_type in {"string", "large_string", "utf8", "large_utf8"}
