"""Test settings: local defaults with a data directory of their own, so tests never touch
the data of a platform running on the same machine. The contract build cache stays shared."""

import os
from pathlib import Path

_REPO_DIR = Path(__file__).resolve().parents[4]
os.environ.setdefault("SYNOD_DATA_DIR", str(_REPO_DIR / "var" / "test"))

from synod.config.settings.local import *  # noqa: E402, F403
from synod.config.settings.local import REPO_DIR  # noqa: E402

CONTRACT_BUILD_DIR = REPO_DIR / "var" / "contracts-build"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
