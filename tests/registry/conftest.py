from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from synod.registry.models import Dataset

from . import builders


@pytest.fixture
def blob_dir(tmp_path: Path) -> Iterator[Path]:
    """Each test gets a blob store of its own (Django's default storage, on disk)."""
    location = tmp_path / "blobs"
    with builders.blob_storage_at(location), override_settings(REGISTRY_EVAL_BATCH_SIZE=16):
        yield location


def stored_files(location: Path) -> list[Path]:
    return sorted(p for p in location.rglob("*") if p.is_file()) if location.exists() else []


@pytest.fixture
def tabular(blob_dir: Path) -> Dataset:
    return builders.upload_blobs_dataset()
