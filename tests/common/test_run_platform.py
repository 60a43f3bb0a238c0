"""The README's run command end to end: one command brings up chain, contracts, web, worker
and beat; Ctrl-C stops all of it; a second start reuses what the first built."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from synod.chain.devnode import free_port

pytestmark = pytest.mark.slow


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _start(env: dict, http_port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_platform", "--addr", f"127.0.0.1:{http_port}"],
        cwd=settings.REPO_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _wait_healthy(http_port: int, process: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + 120
    body: dict = {}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"run_platform exited early:\n{log.read_text()[-4000:]}")
        try:
            url = f"http://127.0.0.1:{http_port}/healthz"
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
            if body["workers"]["ok"] and body["beat"]["ok"]:
                return body
        except urllib.error.HTTPError as unhealthy:  # 503 until every part answers
            body = json.loads(unhealthy.read() or b"{}")
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    pytest.fail(f"never healthy; last answer {body}\n{log.read_text()[-4000:]}")


def _interrupt(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    return process.wait(timeout=30)


def _postgres_url() -> str | None:
    if not _answers("127.0.0.1", 5432):
        return None
    return os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["embedded", "postgres+redis"])
def platform_env(request, tmp_path) -> Iterator[dict]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "synod.config.settings.local",
        "SYNOD_DATA_DIR": str(tmp_path / "data"),
        "CHAIN_RPC_URL": f"http://127.0.0.1:{free_port()}",
    }
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    if request.param == "embedded":
        yield env
        return
    admin_url = _postgres_url()
    if admin_url is None or not _answers("127.0.0.1", 6379):
        pytest.skip("PostgreSQL (5432) and Redis (6379) must both answer on 127.0.0.1")
    import psycopg

    database = f"synod_run_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    redis_db = 13
    env["DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + f"/{database}"
    env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
    try:
        yield env
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_one_command_runs_the_platform_and_ctrl_c_stops_it(platform_env, tmp_path):
    http_port = free_port()
    chain_port = int(platform_env["CHAIN_RPC_URL"].rsplit(":", 1)[1])
    log = tmp_path / "run.log"

    first = _start(platform_env, http_port, log)
    try:
        body = _wait_healthy(http_port, first, log)
    finally:
        exit_code = _interrupt(first)
    assert body["chain"]["data"]["chain_id"] == 31337
    assert body["chain"]["data"]["block_number"] >= 1
    assert "PromptTicket" in body["chain"]["data"]["contracts"]
    assert body["workers"]["data"]["count"] >= 1
    expected_db = "postgresql" if "DATABASE_URL" in platform_env else "sqlite"
    assert expected_db in body["database"]["detail"]
    page = log.read_text()
    assert "deployed at" in page
    assert exit_code in (0, 130, -signal.SIGINT)
    # Everything it started is gone: the ports are free again.
    assert not _answers("127.0.0.1", http_port)
    assert not _answers("127.0.0.1", chain_port)

    # The second start reuses the chain state and the deployment instead of redeploying.
    second = _start(platform_env, http_port, log)
    try:
        again = _wait_healthy(http_port, second, log)
    finally:
        _interrupt(second)
    assert again["chain"]["data"]["contracts"] == body["chain"]["data"]["contracts"]
    assert "reused at" in log.read_text()
