"""Unix socket paths that fit: Linux refuses paths longer than 107 bytes, and deep data
directories (CI clones, pytest temp folders) exceed that."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

MAX_PATH_LENGTH = 100


def fitting_socket_path(path: Path) -> Path:
    """`path` itself when short enough, else a short path in the temp folder named by a hash
    of it, so every process asking for the same socket finds the same one."""
    path = Path(path).resolve()
    if len(str(path)) <= MAX_PATH_LENGTH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"synod-{digest}-{path.name}"
