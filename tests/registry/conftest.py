from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from synod.registry import services
from synod.registry.models import Dataset

from . import builders


@pytest.fixture
def blob_dir(tmp_path: Path) -> Iterator[Path]:
    """Each test gets a blob store of its own (Django's default storage, on disk)."""
    location = tmp_path / "blobs"
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, REGISTRY_EVAL_BATCH_SIZE=16):
        yield location


def stored_files(location: Path) -> list[Path]:
    return sorted(p for p in location.rglob("*") if p.is_file()) if location.exists() else []


@pytest.fixture
def tabular(blob_dir: Path) -> Dataset:
    features, labels = builders.tabular_rows()
    return services.upload_dataset(
        source=[builders.csv_bytes(features, labels)],
        filename="blobs.csv",
        name="three blobs",
        input_columns=builders.FEATURES,
        label_column="label",
    ).record
