"""synod_core runs on provider machines that have no platform: importing it, all of it,
must load neither Django, Celery, DRF, web3 nor anything of synod."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import synod_core

FORBIDDEN = ["django", "celery", "rest_framework", "synod", "web3"]

PROBE = """
import importlib, json, pkgutil, sys
import synod_core
names = ["synod_core"] + [
    info.name for info in pkgutil.walk_packages(synod_core.__path__, "synod_core.")
]
for name in names:
    importlib.import_module(name)
roots = sorted({module.split(".")[0] for module in sys.modules})
print(json.dumps({"imported": names, "roots": roots}))
"""


def test_importing_every_module_loads_no_platform() -> None:
    platform_dir = Path(synod_core.__file__).resolve().parents[1]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONSTARTUP")
    }
    # This checkout's platform/ first, then the installed packages: a fresh interpreter
    # with none of this test process's modules.
    env["PYTHONPATH"] = str(platform_dir)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=platform_dir,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    expected = {
        "synod_core.abi",
        "synod_core.batching",
        "synod_core.errors",
        "synod_core.feeds",
        "synod_core.jobs",
        "synod_core.onnx_inspect",
        "synod_core.receipts",
        "synod_core.runtime",
    }
    assert expected <= set(found["imported"])
    assert not set(FORBIDDEN) & set(found["roots"]), found["roots"]
