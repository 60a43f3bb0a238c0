"""Test settings: local defaults with a data directory of their own, so tests never touch
the data of a platform running on the same machine. The contract build cache stays shared."""

import os
from pathlib import Path

_REPO_DIR = Path(__file__).resolve().parents[4]
os.environ.setdefault("SYNOD_DATA_DIR", str(_REPO_DIR / "var" / "test"))

from synod.common import embedded_broker  # noqa: E402
from synod.config.settings.local import *  # noqa: E402, F403
from synod.config.settings.local import DATA_DIR, DATABASES, REPO_DIR  # noqa: E402

# A test database that other processes can open (tests that start helper processes share
# it), named per pytest process so concurrent test runs on one machine never collide.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(DATA_DIR / f"test-db-{os.getpid()}.sqlite3")
    )
else:
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", f"test_synod_{os.getpid()}")

# The embedded broker per pytest process too (tests/conftest.py starts it for the session).
if not os.environ.get("CELERY_BROKER_URL"):
    BROKER_DIR = DATA_DIR / f"broker-{os.getpid()}"
    CELERY_BROKER_URL = embedded_broker.url(BROKER_DIR)
    if not os.environ.get("CELERY_RESULT_BACKEND"):
        CELERY_RESULT_BACKEND = embedded_broker.result_backend(BROKER_DIR)

CONTRACT_BUILD_DIR = REPO_DIR / "var" / "contracts-build"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
