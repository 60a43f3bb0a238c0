from __future__ import annotations

import pytest
from django.core.management import call_command

from synod.registry.models import Dataset, Evaluation, EvaluationStatus, ModelVersion

pytestmark = pytest.mark.django_db


def test_build_demo_content_is_idempotent_and_ranks_the_classifiers(blob_dir, tmp_path) -> None:
    from django.test import override_settings

    with override_settings(REGISTRY_DEMO_CACHE_DIR=tmp_path / "demo"):
        call_command("build_demo_content", "--skip-embedding")
        call_command("build_demo_content", "--skip-embedding")

    assert Dataset.objects.count() == 1
    assert ModelVersion.objects.count() == 2
    evaluations = {
        e.model_version.version: e for e in Evaluation.objects.select_related("model_version")
    }
    assert len(evaluations) == 2
    assert all(e.status == EvaluationStatus.SUCCEEDED for e in evaluations.values())
    stump, logistic = evaluations["1.0-stump"], evaluations["2.0-logistic"]
    assert logistic.metrics["accuracy"] > 0.9
    assert stump.metrics["accuracy"] < 0.7


def test_upload_commands(blob_dir, tmp_path, capsys) -> None:
    from . import builders

    features, labels = builders.tabular_rows()
    data = tmp_path / "blobs.csv"
    data.write_bytes(builders.csv_bytes(features, labels))
    model = tmp_path / "linear.onnx"
    model.write_bytes(builders.linear_classifier())

    call_command(
        "upload_dataset", str(data), "--name", "blobs", "--inputs", "f0,f1,f2", "--label", "label"
    )
    dataset = Dataset.objects.get()
    call_command(
        "upload_model",
        str(model),
        "--name=linear",
        "--model-version=1",
        "--task=classification",
        "--price=2",
        f"--dataset={dataset.sha256}",
        "--evaluate",
    )
    output = capsys.readouterr().out
    assert dataset.sha256 in output
    assert "evaluation #" in output and "succeeded" in output
    assert ModelVersion.objects.get().evaluations.get().status == EvaluationStatus.SUCCEEDED
