"""A task goes through a real broker to a real worker process and its result comes back."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from celery import Celery
from django.conf import settings

from synod.common import embedded_broker


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


# The local settings, not the test settings: they derive the broker from SYNOD_DATA_DIR alone.
_LOCAL = "synod.config.settings.local"


@pytest.fixture
def worker_factory(tmp_path) -> Iterator:
    processes: list[subprocess.Popen] = []

    def start(env_overrides: dict[str, str | None]) -> subprocess.Popen:
        """Starts a worker; an override of None removes that variable."""
        env = {
            **os.environ,
            "PYTHONPATH": str(settings.REPO_DIR / "platform"),
            "DJANGO_SETTINGS_MODULE": "synod.config.settings.test",
            "SYNOD_DATA_DIR": str(tmp_path),
            **env_overrides,
        }
        env = {name: value for name, value in env.items() if value is not None}
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "synod", "worker", "--pool", "solo",
             "--loglevel", "WARNING", "--hostname", f"roundtrip-{os.getpid()}@%h"],
            env=env, cwd=settings.REPO_DIR,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _round_trip(app: Celery, worker: subprocess.Popen) -> tuple[str, float]:
    deadline = time.monotonic() + 60
    while not app.control.inspect(timeout=0.5).ping():
        if worker.poll() is not None:
            pytest.fail(f"worker exited: {worker.stdout.read().decode()[-3000:]}")
        assert time.monotonic() < deadline, "the worker never answered a ping"
    started = time.monotonic()
    result = app.send_task("synod.common.tasks.ping").get(timeout=30)
    return result, time.monotonic() - started


def test_round_trip_through_the_embedded_broker(tmp_path, worker_factory):
    server = embedded_broker.EmbeddedBroker(tmp_path / "broker").start()
    try:
        # The worker finds the same broker on its own: the default for SYNOD_DATA_DIR=tmp_path.
        worker = worker_factory(
            {
                "CELERY_BROKER_URL": None,
                "CELERY_RESULT_BACKEND": None,
                "DJANGO_SETTINGS_MODULE": _LOCAL,
            }
        )
        app = Celery("roundtrip", broker=server.url, backend=server.result_backend)
        result, seconds = _round_trip(app, worker)
        assert result == "pong"
        assert seconds < 30
    finally:
        server.stop()


@pytest.mark.skipif(not _redis_answers(), reason="no Redis answers on 127.0.0.1:6379")
def test_round_trip_through_redis(worker_factory):
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    worker = worker_factory({"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url})
    app = Celery("roundtrip", broker=url, backend=url)
    result, _ = _round_trip(app, worker)
    assert result == "pong"
