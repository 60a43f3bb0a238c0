"""Datasets as Arrow tables: parsing CSV, JSON Lines and Parquet strictly (a truncated or
malformed file is an error, never a silently shorter table), within limits on rows, columns
and decoded memory checked before the data is read whole, and profiling their columns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pa_parquet
from django.conf import settings

from synod.registry.errors import DatasetTooLarge, InvalidDatasetFile, without_server_paths
from synod.registry.models import DatasetFormat
from synod.registry.storage import format_bytes

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


@dataclass(frozen=True)
class TableLimits:
    """How big a dataset may be once read, whatever its size on disk: compression and
    dictionary encoding let a small file declare a huge table."""

    max_rows: int
    max_columns: int
    max_decoded_bytes: int

    @classmethod
    def from_settings(cls) -> TableLimits:
        return cls(
            max_rows=settings.REGISTRY_MAX_DATASET_ROWS,
            max_columns=settings.REGISTRY_MAX_DATASET_COLUMNS,
            max_decoded_bytes=settings.REGISTRY_MAX_DATASET_DECODED_BYTES,
        )


def read_table(path: Path, fmt: str, limits: TableLimits | None = None) -> pa.Table:
    """The whole dataset as a table, or InvalidDatasetFile (unparsable) or DatasetTooLarge
    (over a limit, found before the data is decoded, or as soon as it crosses one)."""
    limits = limits or TableLimits.from_settings()
    label = DatasetFormat(fmt).label if fmt in DatasetFormat.values else fmt
    try:
        if fmt == DatasetFormat.CSV:
            return _read_csv(path, limits, label)
        if fmt == DatasetFormat.JSONL:
            return _read_jsonl(path, limits, label)
        if fmt == DatasetFormat.PARQUET:
            return _read_parquet(path, limits, label)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        text = str(exc).strip()
        reason = without_server_paths(text.splitlines()[0][:400]) if text else type(exc).__name__
        raise InvalidDatasetFile(
            f"The {label} file could not be parsed (truncated or malformed?): "
            f"{reason}. Nothing was stored."
        ) from exc
    raise InvalidDatasetFile(f"Unknown dataset format {fmt!r}.")


# --- limits ----------------------------------------------------------------------------------


class _Tally:
    """Rows, columns and decoded bytes seen so far, refused the moment one is over."""

    def __init__(self, limits: TableLimits, label: str) -> None:
        self.limits, self.label = limits, label
        self.rows = 0
        self.decoded_bytes = 0
        self.columns: set[str] = set()

    def add(self, rows: int, decoded_bytes: int, columns: Iterable[str] = ()) -> None:
        self.rows += rows
        self.decoded_bytes += decoded_bytes
        self.columns.update(columns)
        check_columns(len(self.columns), self.limits, self.label, exact=False)
        if self.rows > self.limits.max_rows:
            raise DatasetTooLarge(
                f"The {self.label} file has at least {self.rows:,} rows; the limit is "
                f"{self.limits.max_rows:,} rows per dataset. Nothing was stored."
            )
        if self.decoded_bytes > self.limits.max_decoded_bytes:
            raise DatasetTooLarge(
                f"The {self.label} file takes more than the limit of "
                f"{format_bytes(self.limits.max_decoded_bytes)} in memory once decoded "
                f"(reading stopped at {format_bytes(self.decoded_bytes)}). Nothing was stored."
            )


def check_columns(columns: int, limits: TableLimits, label: str, *, exact: bool = True) -> None:
    if columns > limits.max_columns:
        has = "has" if exact else "has at least"
        raise DatasetTooLarge(
            f"The {label} file {has} {columns:,} columns; the limit is "
            f"{limits.max_columns:,} columns per dataset. Nothing was stored."
        )


def _check_whole_table(table: pa.Table, limits: TableLimits, label: str) -> pa.Table:
    # The counting pass measured every column as text; typed columns can be somewhat larger.
    if table.nbytes > limits.max_decoded_bytes:
        raise DatasetTooLarge(
            f"The {label} file takes {format_bytes(table.nbytes)} in memory once decoded; "
            f"the limit is {format_bytes(limits.max_decoded_bytes)} per dataset. "
            "Nothing was stored."
        )
    return table


# --- CSV -------------------------------------------------------------------------------------


def _read_csv(path: Path, limits: TableLimits, label: str) -> pa.Table:
    # Counting pass first, streaming with every column read as text (text never fails to
    # convert), so rows, columns and memory are known while only one block is in memory.
    # The real read follows only within the limits; it infers types over the whole file,
    # which the streaming reader cannot (it fixes them from the first block).
    with pa_csv.open_csv(path) as head:
        names = head.schema.names
    check_columns(len(names), limits, label)
    as_text = pa_csv.ConvertOptions(column_types={name: pa.string() for name in names})
    tally = _Tally(limits, label)
    with pa_csv.open_csv(path, convert_options=as_text) as reader:
        for batch in reader:
            tally.add(batch.num_rows, batch.nbytes)
    return _check_whole_table(pa_csv.read_csv(path), limits, label)


# --- JSON Lines ------------------------------------------------------------------------------

# Large blocks: the reader infers types per block, and one block per file keeps inference
# consistent for every file a registry is likely to hold. No line may be longer.
JSONL_BLOCK_BYTES = 1 << 26
# The counting pass parses the file this many bytes (whole lines) at a time.
JSONL_COUNTING_CHUNK_BYTES = 8 * 1024 * 1024


def _jsonl_chunks(path: Path) -> Iterator[bytes]:
    """The file in pieces of whole lines, each a JSON Lines document on its own."""
    carry = b""
    with path.open("rb") as handle:
        while data := handle.read(JSONL_COUNTING_CHUNK_BYTES):
            data = carry + data
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if len(carry) > JSONL_BLOCK_BYTES:
                raise pa.ArrowInvalid(
                    f"a line is longer than {format_bytes(JSONL_BLOCK_BYTES)}, the longest "
                    "row the reader takes"
                )
            if cut:
                yield data[:cut]
    if carry.strip():
        yield carry


def _read_jsonl(path: Path, limits: TableLimits, label: str) -> pa.Table:
    # JSON Lines rows never span lines, so the counting pass parses the file a few MB of
    # lines at a time and keeps only the counts; then, within the limits, the real read.
    tally = _Tally(limits, label)
    for chunk in _jsonl_chunks(path):
        part = pa_json.read_json(
            pa.BufferReader(chunk), read_options=pa_json.ReadOptions(block_size=JSONL_BLOCK_BYTES)
        )
        tally.add(part.num_rows, part.nbytes, part.column_names)
    table = pa_json.read_json(path, read_options=pa_json.ReadOptions(block_size=JSONL_BLOCK_BYTES))
    return _check_whole_table(table, limits, label)


# --- Parquet ---------------------------------------------------------------------------------

# Bytes per value once decoded, by Parquet physical type; byte arrays (strings) are counted
# as their offsets plus the uncompressed size the footer declares.
_DECODED_WIDTH = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 8, "FLOAT": 4, "DOUBLE": 8}
_OFFSET_BYTES = 4
# A decoded batch takes at most this share of the memory limit (by the fixed-width columns).
_BATCH_SHARE_OF_LIMIT = 16
_MAX_BATCH_ROWS = 65_536


def _parquet_bytes_per_row(metadata: pa_parquet.FileMetaData) -> int:
    per_row = 0
    for index in range(metadata.num_columns):
        column = metadata.schema.column(index)
        if column.physical_type == "FIXED_LEN_BYTE_ARRAY":
            per_row += max(column.length or 0, 1)
        else:
            per_row += _DECODED_WIDTH.get(column.physical_type, _OFFSET_BYTES)
    return per_row


def _parquet_decoded_estimate(metadata: pa_parquet.FileMetaData) -> int:
    """What the footer says the table takes once decoded: rows times the width of every
    column, plus the uncompressed bytes it declares (text and byte columns). Dictionary and
    RLE encoding make the uncompressed sizes tiny for repeated values; the row count is
    what cannot hide."""
    declared = sum(
        metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups)
    )
    return metadata.num_rows * _parquet_bytes_per_row(metadata) + declared


def _is_byte_array(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
    )


def _expanded_nbytes(batch: pa.RecordBatch) -> int:
    """The batch's size with every dictionary column expanded to one value per row, computed
    from the value lengths, without expanding it."""
    total = 0
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
            total += (pc.sum(lengths).as_py() or 0) + _OFFSET_BYTES * len(column)
        else:
            total += column.nbytes
    return total


def _read_parquet(path: Path, limits: TableLimits, label: str) -> pa.Table:
    # Only the footer is read before these checks, and refuses the file from what it
    # declares. The data is then decoded a batch at a time with text columns kept as
    # dictionaries, so a long value repeated through a dictionary (a footer declaring a few
    # KB for a column that expands to GBs) is measured before it is ever expanded.
    with path.open("rb") as handle:
        with pa_parquet.ParquetFile(handle) as parquet:
            metadata, schema = parquet.metadata, parquet.schema_arrow
        if metadata.num_rows > limits.max_rows:
            raise DatasetTooLarge(
                f"The {label} file declares {metadata.num_rows:,} rows; the limit is "
                f"{limits.max_rows:,} rows per dataset. Nothing was stored."
            )
        check_columns(metadata.num_columns, limits, label)
        if metadata.num_row_groups > max(metadata.num_rows, 1):
            raise DatasetTooLarge(
                f"The {label} file declares {metadata.num_row_groups:,} row groups for "
                f"{metadata.num_rows:,} rows. Nothing was stored."
            )
        estimate = _parquet_decoded_estimate(metadata)
        if estimate > limits.max_decoded_bytes:
            raise DatasetTooLarge(
                f"The {label} file's {metadata.num_rows:,} rows of {metadata.num_columns:,} "
                f"column(s) would take about {format_bytes(estimate)} in memory once decoded; "
                f"the limit is {format_bytes(limits.max_decoded_bytes)} per dataset. "
                "Nothing was stored."
            )
        batch_budget = limits.max_decoded_bytes // _BATCH_SHARE_OF_LIMIT
        batch_rows = max(1, min(_MAX_BATCH_ROWS, batch_budget // _parquet_bytes_per_row(metadata)))
        text_columns = [field.name for field in schema if _is_byte_array(field.type)]
        handle.seek(0)
        tally = _Tally(limits, label)
        batches = []
        with pa_parquet.ParquetFile(handle, read_dictionary=text_columns) as parquet:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                tally.add(batch.num_rows, _expanded_nbytes(batch))
                batches.append(batch)
            as_dictionaries = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
        # Within the limit: back to the column types the file declares.
        return as_dictionaries.cast(schema)


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
