"""`pip install '.[worker]'` gives a provider's machine the core and a Celery worker, and
no web platform: installed into a fresh virtualenv, Django, DRF and web3 are absent, and the
core still inspects and runs a model."""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WEB_ONLY = ["django", "rest_framework", "web3", "solcx", "supervisor", "gunicorn", "pyarrow"]

CHECK = """
import importlib.util, json, sys
import numpy as np
import onnx
from onnx import TensorProto, helper

import synod_core
from synod_core import abi, runtime

missing = [name for name in {web_only!r} if importlib.util.find_spec(name) is not None]
assert not missing, f"the worker install holds web-platform packages: {{missing}}"
import celery  # the worker is a Celery worker
assert "django" not in sys.modules

graph = helper.make_graph(
    [helper.make_node("Add", ["x", "x"], ["y"])], "double",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
session = runtime.open_session(model.SerializeToString())
outputs = session.run({{"x": np.ones((3, 2), dtype=np.float32)}})
print(json.dumps({{
    "y": np.asarray(outputs["y"]).tolist(),
    "provider": session.provider,
    "abi_entries": len(abi.load("ModelRegistry")),
}}))
"""


def _source_tree(tmp_path: Path) -> Path:
    """What `pip install .` reads, copied so the build leaves nothing in the checkout."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "platform",
        source / "platform",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return source


def test_the_worker_extra_installs_the_core_and_celery_without_django(tmp_path):
    source = _source_tree(tmp_path)
    env_dir = tmp_path / "worker-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{source}[worker]"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    checked = subprocess.run(
        [str(python), "-c", CHECK.format(web_only=WEB_ONLY)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr[-3000:]
    result = json.loads(checked.stdout.strip().splitlines()[-1])
    assert result["y"] == [[2.0, 2.0]] * 3
    assert result["provider"] == "CPUExecutionProvider"
    assert result["abi_entries"] > 0
