"""The embedded Celery broker: kombu's filesystem transport (and Celery's file result
backend) under one folder, so a single machine needs no broker server. It supports broadcast,
so `inspect().ping()` counts workers. Settings, the Celery app and the tests build it here."""

from __future__ import annotations

from pathlib import Path

URL = "filesystem://"
_FOLDER_KEYS = ("data_folder_in", "data_folder_out", "control_folder", "processed_folder")


def transport_options(broker_dir: Path) -> dict:
    return {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "control_folder": str(broker_dir / "control"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
        # The transport polls its folders: 50 ms keeps a round trip quick at little cost.
        "polling_interval": 0.05,
    }


def result_backend(broker_dir: Path) -> str:
    return f"file://{broker_dir / 'results'}"


def prepare(options: dict, backend: str) -> None:
    """The transport and the file backend need their folders before first use."""
    folders = [options.get(key) for key in _FOLDER_KEYS]
    if backend.startswith("file://"):
        folders.append(backend.removeprefix("file://"))
    for folder in filter(None, folders):
        Path(folder).mkdir(parents=True, exist_ok=True)
