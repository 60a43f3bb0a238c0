from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import numpy as np
import pytest

from synod.config.celery import app as celery_app
from synod.registry import selectors, services
from synod.registry.evaluation import canonical_json
from synod.registry.models import Dataset, Evaluation, EvaluationStatus, ModelVersion
from synod.registry.storage import read_blob

from . import builders

pytestmark = pytest.mark.django_db


def upload_classifier(dataset: Dataset, weights=builders.GOOD_WEIGHTS, version="1"):
    return services.upload_model(
        source=[builders.linear_classifier(weights=weights)],
        filename="linear.onnx",
        name="linear",
        version=version,
        task="classification",
        price_per_call=2,
        dataset_sha256=dataset.sha256,
    ).record


def expected_predictions(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features, labels = builders.tabular_rows()
    scores = features.astype(np.float32) @ weights + builders.GOOD_BIAS
    return labels, scores.argmax(axis=1)


@pytest.fixture
def eager_celery() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_evaluation_end_to_end_through_the_service(tabular: Dataset) -> None:
    model = upload_classifier(tabular)
    evaluation = services.request_evaluation(model_version=model, dataset=tabular)
    assert evaluation.status == EvaluationStatus.QUEUED

    evaluation = services.run_evaluation(evaluation_id=evaluation.pk)

    assert evaluation.status == EvaluationStatus.SUCCEEDED, evaluation.error
    labels, predicted = expected_predictions(builders.GOOD_WEIGHTS)
    assert evaluation.metrics["accuracy"] == pytest.approx(np.mean(labels == predicted))
    assert evaluation.metrics["rows"] == len(labels)
    assert sum(evaluation.metrics["per_class"][c]["support"] for c in ("0", "1", "2")) == 60
    assert evaluation.rows_done == evaluation.rows_total == 60
    assert evaluation.execution_provider == "CPUExecutionProvider"
    # The stored report is canonical JSON whose sha256 is the report hash, and it carries
    # the metrics with their own hash, the inputs' hashes and the runtime.
    raw = read_blob(evaluation.report_storage_name)
    assert hashlib.sha256(raw).hexdigest() == evaluation.report_sha256
    report = json.loads(raw)
    assert canonical_json(report) == raw
    assert report["metrics"] == evaluation.metrics
    assert hashlib.sha256(canonical_json(report["metrics"])).hexdigest() == (
        evaluation.metrics_sha256
    )
    assert report["model"]["sha256"] == model.sha256
    assert report["dataset"]["sha256"] == tabular.sha256
    assert report["runtime"]["onnxruntime"]
    timings = report["timings"]
    assert timings["latency_ms"]["per_item"]["p50"] > 0
    assert timings["latency_ms"]["per_batch"]["p95"] >= timings["latency_ms"]["per_batch"]["p50"]
    assert timings["throughput_items_per_second"] > 0
    assert timings["memory"]["process_peak_rss_bytes"] > 0


def test_same_model_dataset_and_runtime_give_identical_metrics(tabular: Dataset) -> None:
    model = upload_classifier(tabular)
    first = services.run_evaluation(
        evaluation_id=services.request_evaluation(model_version=model, dataset=tabular).pk
    )
    again = services.request_evaluation(model_version=model, dataset=tabular)
    assert again.pk == first.pk  # already evaluated: the request is idempotent
    second = services.run_evaluation(
        evaluation_id=services.request_evaluation(
            model_version=model, dataset=tabular, rerun=True
        ).pk
    )
    assert second.pk != first.pk
    assert second.metrics == first.metrics
    assert second.metrics_sha256 == first.metrics_sha256
    assert canonical_json(second.metrics) == canonical_json(first.metrics)


def test_a_repeated_task_delivery_does_not_run_twice(tabular: Dataset) -> None:
    model = upload_classifier(tabular)
    evaluation = services.request_evaluation(model_version=model, dataset=tabular)
    done = services.run_evaluation(evaluation_id=evaluation.pk)
    redelivered = services.run_evaluation(evaluation_id=evaluation.pk)
    assert redelivered.finished_at == done.finished_at
    assert redelivered.report_sha256 == done.report_sha256


def test_evaluation_through_the_celery_task(
    tabular: Dataset, eager_celery: None, django_capture_on_commit_callbacks
) -> None:
    model = upload_classifier(tabular)
    with django_capture_on_commit_callbacks(execute=True):
        evaluation = services.request_evaluation(model_version=model, dataset=tabular)
    evaluation.refresh_from_db()
    assert evaluation.status == EvaluationStatus.SUCCEEDED, evaluation.error
    assert evaluation.metrics["accuracy"] > 0.9


def test_regression_metrics(blob_dir) -> None:
    features, _ = builders.tabular_rows()
    target = features @ np.array([1.5, -2.0, 0.5]) + 3.0
    csv = "f0,f1,f2,y\n" + "".join(
        f"{a},{b},{c},{y:.6f}\n" for (a, b, c), y in zip(features, target, strict=True)
    )
    dataset = services.upload_dataset(
        source=[csv.encode()],
        filename="regression.csv",
        name="regression",
        input_columns=builders.FEATURES,
        label_column="y",
    ).record
    # Off by +0.5 everywhere: MAE and RMSE must both be 0.5.
    model = services.upload_model(
        source=[builders.linear_regressor(np.array([1.5, -2.0, 0.5]), 3.5)],
        filename="regressor.onnx",
        name="regressor",
        version="1",
        task="regression",
        price_per_call=1,
        dataset_sha256=dataset.sha256,
    ).record

    evaluation = services.run_evaluation(
        evaluation_id=services.request_evaluation(model_version=model, dataset=dataset).pk
    )

    assert evaluation.status == EvaluationStatus.SUCCEEDED, evaluation.error
    assert evaluation.metrics["mae"] == pytest.approx(0.5, abs=1e-5)
    assert evaluation.metrics["rmse"] == pytest.approx(0.5, abs=1e-5)


def test_comparison_marks_the_better_version(tabular: Dataset) -> None:
    good = upload_classifier(tabular)
    weak_weights = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
    weak = upload_classifier(tabular, weights=weak_weights, version="2")
    for model in (good, weak):
        services.run_evaluation(
            evaluation_id=services.request_evaluation(model_version=model, dataset=tabular).pk
        )

    [comparison] = selectors.model_comparisons("linear")

    rows = {row.model_version.version: row for row in comparison.rows}
    assert comparison.columns == ["Accuracy", "Macro F1"]
    assert rows["1"].cells[0].best and not rows["2"].cells[0].best
    assert rows["1"].cells[0].value > rows["2"].cells[0].value


def test_failures_are_recorded_on_the_row(tabular: Dataset) -> None:
    model: ModelVersion = upload_classifier(tabular)
    evaluation = services.request_evaluation(model_version=model, dataset=tabular)
    # The model's blob vanished from the store: the evaluation fails visibly, not silently.
    from synod.registry.storage import blob_storage

    blob_storage().delete(model.storage_name)
    evaluation = services.run_evaluation(evaluation_id=evaluation.pk)
    assert evaluation.status == EvaluationStatus.FAILED
    assert evaluation.error
    assert Evaluation.objects.filter(status=EvaluationStatus.SUCCEEDED).count() == 0


def test_an_evaluation_asked_for_while_the_broker_is_away_is_kept_and_sent_later(
    tabular: Dataset, monkeypatch, django_capture_on_commit_callbacks, eager_celery
) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from kombu.exceptions import OperationalError

    from synod.registry import tasks

    model = upload_classifier(tabular)

    def broker_away(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    # The fault only: publishing fails as it does while the broker restarts.
    with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
        patch.setattr(tasks.run_evaluation, "delay", broker_away)
        evaluation = services.request_evaluation(model_version=model, dataset=tabular)
    assert Evaluation.objects.get(pk=evaluation.pk).status == EvaluationStatus.QUEUED

    # Not yet stalled: nothing is sent again.
    assert services.requeue_stalled_evaluations() == 0
    Evaluation.objects.filter(pk=evaluation.pk).update(
        created_at=timezone.now() - services.EVALUATION_REQUEUE_AFTER - timedelta(seconds=1)
    )
    assert services.requeue_stalled_evaluations() == 1  # eager: runs here and now
    finished = Evaluation.objects.get(pk=evaluation.pk)
    assert finished.status == EvaluationStatus.SUCCEEDED, finished.error
