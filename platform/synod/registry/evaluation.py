"""Running a model version over a dataset on onnxruntime and measuring it.

The report has two parts. `metrics` depends only on the model, the dataset and the runtime
(library versions, execution provider, threads, batch size): the session is made
deterministic and every figure is computed in a fixed order, so two runs give the same
bytes and the same `metrics_sha256`. `timings` (latency, throughput, memory) naturally vary
from run to run and are kept apart; the report's own hash covers both."""

from __future__ import annotations

import hashlib
import json
import platform as std_platform
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pyarrow as pa

from synod.registry.compatibility import FeedPlan, plan_feed
from synod.registry.errors import EvaluationFailed, without_server_paths
from synod.registry.models import ModelTask
from synod.registry.tables import read_table
from synod_core.batching import chunk_ranges, pad_rows
from synod_core.errors import CoreError
from synod_core.feeds import load_tokenizer, sequence_length, tabular_feeds, token_feeds
from synod_core.onnx_inspect import TensorSpec
from synod_core.runtime import ModelSession, SessionSettings, open_session

REPORT_FORMAT = "synod.evaluation-report/1"
# Single-item latency is sampled on this many rows: enough for stable percentiles.
LATENCY_SAMPLE_ROWS = 32
METRIC_DECIMALS = 12
FLOAT_OUTPUTS = {"float", "double", "float16"}

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class EvaluationJob:
    model_path: Path
    model_sha256: str
    model_name: str
    model_version: str
    task: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    tokenizer_path: Path | None
    dataset_path: Path
    dataset_sha256: str
    dataset_name: str
    dataset_format: str
    input_columns: list[str]
    label_column: str
    column_types: dict[str, str]
    batch_size: int
    threads: int


@dataclass(frozen=True)
class EvaluationOutcome:
    report: dict[str, Any]
    report_bytes: bytes
    report_sha256: str
    metrics: dict[str, Any]
    metrics_sha256: str
    timings: dict[str, Any]
    execution_provider: str


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, no NaN: one byte string per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _round(value: float) -> float:
    return round(float(value), METRIC_DECIMALS)


# --- inputs and session ------------------------------------------------------------------
# Feeds, sessions and batches are synod_core's; what is here reads the dataset and turns the
# core's errors into EvaluationFailed, with no path of this server in the message.


def _column_array(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).to_numpy(zero_copy_only=False)


def _tabular_feed(table: pa.Table, plan: FeedPlan) -> dict[str, np.ndarray]:
    needed = {column for columns in plan.columns.values() for column in columns}
    return tabular_feeds({column: _column_array(table, column) for column in needed}, plan)


def _failed(exc: CoreError) -> EvaluationFailed:
    return EvaluationFailed(without_server_paths(str(exc)))


def _session(job: EvaluationJob) -> ModelSession:
    settings = SessionSettings(
        intra_op_threads=job.threads, inter_op_threads=1, deterministic=True, log_severity=3
    )
    # From bytes, checked again here: a model stored before uploads were checked for external
    # data must not read files next to its blob either.
    try:
        return open_session(
            job.model_path.read_bytes(), settings=settings, outcome="It was not evaluated."
        )
    except CoreError as exc:
        raise _failed(exc) from exc


def _fixed_batch(inputs: list[TensorSpec]) -> int | None:
    first = inputs[0].shape[0] if inputs and inputs[0].shape else None
    return first if isinstance(first, int) and first > 0 else None


def _run_batch(
    session: ModelSession, feed: dict[str, np.ndarray], fixed_batch: int | None
) -> list[Any]:
    rows = len(next(iter(feed.values())))
    if fixed_batch:
        # A model exported with a fixed batch size: pad with copies of the last row.
        feed = pad_rows(feed, fixed_batch)
    try:
        outputs = session.run(feed)
    except CoreError as exc:
        raise _failed(exc) from exc
    return [
        np.asarray(output)[:rows] if _is_array(output) else output for output in outputs.values()
    ]


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray)


# --- metrics -----------------------------------------------------------------------------


def _class_key(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return str(value.item() if isinstance(value, np.generic) else value)


def _sorted_classes(keys: set[str]) -> list[str]:
    try:
        return sorted(keys, key=int)
    except ValueError:
        return sorted(keys)


def classification_metrics(y_true: list[str], y_pred: list[str]) -> dict[str, Any]:
    classes = _sorted_classes(set(y_true) | set(y_pred))
    index = {name: i for i, name in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for truth, guess in zip(y_true, y_pred, strict=True):
        confusion[index[truth], index[guess]] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    f1_scores = []
    for name, i in index.items():
        tp = int(confusion[i, i])
        predicted = int(confusion[:, i].sum())
        actual = int(confusion[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": _round(precision),
            "recall": _round(recall),
            "f1": _round(f1),
            "support": actual,
        }
        if actual:
            f1_scores.append(f1)
    total = int(confusion.sum())
    return {
        "accuracy": _round(np.trace(confusion) / total),
        "macro_f1": _round(sum(f1_scores) / len(f1_scores)) if f1_scores else 0.0,
        "per_class": per_class,
        "classes": classes,
        "confusion_matrix": confusion.tolist(),
        "rows": total,
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    y_true = y_true.astype(np.float64)
    y_pred = y_pred.astype(np.float64)
    errors = y_pred - y_true
    variance = float(np.sum((y_true - y_true.mean()) ** 2))
    return {
        "mae": _round(np.mean(np.abs(errors))),
        "rmse": _round(np.sqrt(np.mean(errors**2))),
        "r2": _round(1 - float(np.sum(errors**2)) / variance) if variance else 0.0,
        "rows": len(y_true),
    }


def _roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Probability that a similar pair scores above a dissimilar one (ties count half)."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = float(ranks[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def embedding_metrics(
    left: np.ndarray, right: np.ndarray, labels: np.ndarray | None
) -> dict[str, Any]:
    """Paired-sentence evaluation. Cosine similarity of each pair; with 0/1 labels, how well
    it separates similar from dissimilar pairs (means, gap, ROC AUC); and retrieval: for each
    similar pair, is its partner the nearest of all partners (top-1 accuracy)."""
    left = left.astype(np.float64)
    right = right.astype(np.float64)
    left /= np.maximum(np.linalg.norm(left, axis=1, keepdims=True), 1e-12)
    right /= np.maximum(np.linalg.norm(right, axis=1, keepdims=True), 1e-12)
    cosine = np.sum(left * right, axis=1)
    similar = np.ones(len(cosine), dtype=bool) if labels is None else labels.astype(float) >= 0.5
    metrics: dict[str, Any] = {
        "pairs": len(cosine),
        "similar_pairs": int(similar.sum()),
        "embedding_dim": int(left.shape[1]),
        "mean_cosine_similar": _round(cosine[similar].mean()) if similar.any() else None,
        "mean_cosine_dissimilar": _round(cosine[~similar].mean()) if (~similar).any() else None,
    }
    if metrics["mean_cosine_similar"] is not None and metrics["mean_cosine_dissimilar"] is not None:
        metrics["cosine_gap"] = _round(
            metrics["mean_cosine_similar"] - metrics["mean_cosine_dissimilar"]
        )
    auc = _roc_auc(cosine, similar)
    metrics["roc_auc"] = _round(auc) if auc is not None else None
    if similar.sum() >= 2:
        queries, candidates = left[similar], right[similar]
        nearest = np.argmax(queries @ candidates.T, axis=1)
        metrics["retrieval_top1_accuracy"] = _round(np.mean(nearest == np.arange(len(queries))))
    return metrics


def _pick_output(outputs: list[TensorSpec], values: list[Any], *, want: str) -> Any:
    """The output a metric reads: predicted labels for classification, else the first float
    tensor (class scores, regression values or embeddings)."""
    if want == "labels":
        for spec, value in zip(outputs, values, strict=True):
            is_label_tensor = spec.type == "tensor" and spec.elem_type not in FLOAT_OUTPUTS
            if (
                is_label_tensor
                and _is_array(value)
                and value.ndim in (1, 2)
                and value.reshape(len(value), -1).shape[1] == 1
            ):
                return value.reshape(-1)
        return None
    named = {spec.name: value for spec, value in zip(outputs, values, strict=True)}
    if "sentence_embedding" in named:
        return named["sentence_embedding"]
    for spec, value in zip(outputs, values, strict=True):
        if spec.type == "tensor" and spec.elem_type in FLOAT_OUTPUTS:
            return value
    raise EvaluationFailed("The model has no floating-point output to evaluate.")


def _mean_pool(token_embeddings: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    mask = attention_mask.astype(np.float64)[:, :, None]
    summed = (token_embeddings.astype(np.float64) * mask).sum(axis=1)
    return summed / np.maximum(mask.sum(axis=1), 1e-9)


# --- the run ------------------------------------------------------------------------------


def _percentile_ms(samples: list[float], q: float) -> float | None:
    return round(float(np.percentile(samples, q)) * 1000, 4) if samples else None


def _model_outputs_for_rows(
    session: ModelSession,
    job: EvaluationJob,
    plan: FeedPlan,
    table: pa.Table,
    batch_size: int,
    fixed_batch: int | None,
    on_progress: ProgressCallback | None,
    batch_seconds: list[float],
) -> Any:
    """Runs every row in fixed batches; returns what the metric needs for each task."""
    total = table.num_rows
    if plan.mode == "text":
        tokenizer = load_tokenizer(job.tokenizer_path, sequence_length(job.inputs))
        left_texts = [str(v) for v in _column_array(table, job.input_columns[0])]
        right_texts = [str(v) for v in _column_array(table, job.input_columns[1])]
        embeddings: dict[str, list[np.ndarray]] = {"left": [], "right": []}
        for start, stop in chunk_ranges(total, batch_size):
            for side, texts in (("left", left_texts), ("right", right_texts)):
                feed = token_feeds(tokenizer, texts[start:stop], plan)
                began = time.perf_counter()
                values = _run_batch(session, feed, fixed_batch)
                batch_seconds.append(time.perf_counter() - began)
                vectors = _pick_output(job.outputs, values, want="embedding")
                if vectors.ndim == 3:
                    vectors = _mean_pool(vectors, feed["attention_mask"])
                embeddings[side].append(np.asarray(vectors))
            if on_progress:
                on_progress(stop, total)
        return np.concatenate(embeddings["left"]), np.concatenate(embeddings["right"])

    feed_all = _tabular_feed(table, plan)
    labels: list[Any] = []
    scores: list[np.ndarray] = []
    for start, stop in chunk_ranges(total, batch_size):
        feed = {name: value[start:stop] for name, value in feed_all.items()}
        began = time.perf_counter()
        values = _run_batch(session, feed, fixed_batch)
        batch_seconds.append(time.perf_counter() - began)
        predicted = (
            _pick_output(job.outputs, values, want="labels")
            if job.task == ModelTask.CLASSIFICATION
            else None
        )
        if predicted is not None:
            labels.extend(predicted.tolist())
        else:
            scores.append(np.asarray(_pick_output(job.outputs, values, want="scores")))
        if on_progress:
            on_progress(stop, total)
    return labels, (np.concatenate(scores) if scores else None), feed_all


def _single_item_latencies(
    session: ModelSession, job: EvaluationJob, plan: FeedPlan, table: pa.Table
) -> list[float]:
    sample = table.slice(0, min(LATENCY_SAMPLE_ROWS, table.num_rows))
    samples: list[float] = []
    if plan.mode == "text":
        tokenizer = load_tokenizer(job.tokenizer_path, sequence_length(job.inputs))
        texts = [str(v) for v in _column_array(sample, job.input_columns[0])]
        feeds = [token_feeds(tokenizer, [text], plan) for text in texts]
    else:
        feed_all = _tabular_feed(sample, plan)
        feeds = [
            {name: value[i : i + 1] for name, value in feed_all.items()}
            for i in range(sample.num_rows)
        ]
    fixed = _fixed_batch(job.inputs)
    for feed in feeds:
        began = time.perf_counter()
        _run_batch(session, feed, fixed)
        samples.append(time.perf_counter() - began)
    return samples


def _metrics(job: EvaluationJob, table: pa.Table, produced: Any) -> dict[str, Any]:
    if job.task == ModelTask.EMBEDDING:
        left, right = produced
        labels = _column_array(table, job.label_column) if job.label_column else None
        return embedding_metrics(left, right, labels)
    labels, scores, _ = produced
    truth = _column_array(table, job.label_column)
    if job.task == ModelTask.REGRESSION:
        return regression_metrics(truth, scores.reshape(len(truth), -1)[:, 0])
    if not labels:
        # Class scores without a label output: the argmax is the class index, which must then
        # be what the dataset's (integer) labels are.
        labels = np.argmax(scores.reshape(len(truth), -1), axis=1).tolist()
    return classification_metrics([_class_key(v) for v in truth], [_class_key(v) for v in labels])


def evaluate(
    job: EvaluationJob, *, on_progress: ProgressCallback | None = None
) -> EvaluationOutcome:
    plan = plan_feed(
        task=job.task,
        inputs=job.inputs,
        input_columns=job.input_columns,
        label_column=job.label_column,
        column_types=job.column_types,
        has_tokenizer=job.tokenizer_path is not None,
    )
    table = read_table(job.dataset_path, job.dataset_format)
    session = _session(job)
    provider = session.provider
    fixed_batch = _fixed_batch(job.inputs)
    batch_size = fixed_batch or job.batch_size

    tracing_before = tracemalloc.is_tracing()
    if not tracing_before:
        tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    batch_seconds: list[float] = []
    try:
        produced = _model_outputs_for_rows(
            session, job, plan, table, batch_size, fixed_batch, on_progress, batch_seconds
        )
        wall = time.perf_counter() - started
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        if not tracing_before:
            tracemalloc.stop()
    item_seconds = _single_item_latencies(session, job, plan, table)
    metrics = _metrics(job, table, produced)
    metrics_bytes = canonical_json(metrics)
    metrics_sha256 = sha256_hex(metrics_bytes)

    inference_seconds = sum(batch_seconds)
    items = table.num_rows * (2 if plan.mode == "text" else 1)
    timings = {
        "rows": table.num_rows,
        "batches": len(batch_seconds),
        "batch_size": batch_size,
        "wall_seconds": round(wall, 6),
        "inference_seconds": round(inference_seconds, 6),
        "throughput_items_per_second": round(items / inference_seconds, 3)
        if inference_seconds
        else None,
        "latency_ms": {
            "per_batch": {
                "p50": _percentile_ms(batch_seconds, 50),
                "p95": _percentile_ms(batch_seconds, 95),
            },
            "per_item": {
                "p50": _percentile_ms(item_seconds, 50),
                "p95": _percentile_ms(item_seconds, 95),
                "sampled": len(item_seconds),
            },
        },
        "memory": {
            "python_peak_bytes": int(python_peak),
            # ru_maxrss is the process-wide peak (KiB on Linux), onnxruntime's arenas included.
            "process_peak_rss_bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            * 1024,
        },
    }
    report = {
        "format": REPORT_FORMAT,
        "model": {
            "sha256": job.model_sha256,
            "name": job.model_name,
            "version": job.model_version,
            "task": job.task,
        },
        "dataset": {
            "sha256": job.dataset_sha256,
            "name": job.dataset_name,
            "rows": table.num_rows,
            "input_columns": job.input_columns,
            "label_column": job.label_column,
        },
        "runtime": runtime_identity(provider, session, job.threads, batch_size),
        "metrics": metrics,
        "metrics_sha256": metrics_sha256,
        "timings": timings,
    }
    report_bytes = canonical_json(report)
    return EvaluationOutcome(
        report=report,
        report_bytes=report_bytes,
        report_sha256=sha256_hex(report_bytes),
        metrics=metrics,
        metrics_sha256=metrics_sha256,
        timings=timings,
        execution_provider=provider,
    )


def runtime_identity(
    provider: str, session: ModelSession, threads: int, batch_size: int
) -> dict[str, Any]:
    return {
        "execution_provider": provider,
        "providers": session.providers,
        "intra_op_threads": threads,
        "batch_size": batch_size,
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        "python": std_platform.python_version(),
        "machine": std_platform.machine(),
    }
