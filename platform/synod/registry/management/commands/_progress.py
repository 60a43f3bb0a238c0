"""A rich progress bar for the upload commands: bytes hashed and spooled so far."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from synod.registry.storage import ProgressCallback


@contextmanager
def file_progress(path: Path, label: str, *, enabled: bool = True) -> Iterator[ProgressCallback]:
    if not enabled:
        yield lambda _: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=path.stat().st_size)
        yield lambda size: progress.advance(task, size)
