"""The whole platform started the README's way (`manage.py run_platform`, what `make run`
runs) in a data directory of its own, on free ports: on the embedded defaults, or on
PostgreSQL + Redis when both answer on loopback. Used by the run-command tests and bench/."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from synod.chain.devnode import free_port

REPO = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get(
    "POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class RunningPlatform:
    process: subprocess.Popen
    env: dict[str, str]
    data_dir: Path
    log: Path
    http_port: int
    chain_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def health(self) -> dict:
        """/healthz's body, whether it answers 200 or 503."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as unhealthy:
            return json.loads(unhealthy.read() or b"{}")

    def wait_healthy(self, timeout: float = 180) -> dict:
        """Waits for a healthy answer with a live worker and a ticking beat, confirmed once
        more after every web process's remembered failure answers have expired (a process
        that last looked during start-up may otherwise answer 503 for up to a second)."""
        deadline = time.monotonic() + timeout
        body: dict = {}
        seen_healthy = False
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"run_platform exited early:\n{self.output()[-4000:]}")
            try:
                body = self.health()
                if body.get("healthy") and body["workers"]["ok"] and body["beat"]["ok"]:
                    if seen_healthy:
                        return body
                    seen_healthy = True
                    time.sleep(1.5)
                    continue
            except (OSError, ValueError):
                pass
            seen_healthy = False
            time.sleep(0.5)
        raise AssertionError(f"never healthy; last answer {body}\n{self.output()[-4000:]}")

    def supervisorctl(self, *args: str) -> str:
        config = self.data_dir / "run" / "supervisord.conf"
        completed = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(config), *args],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return completed.stdout.strip()

    def pid(self, program: str) -> int:
        """The program's process id; 0 while it is not running."""
        answer = self.supervisorctl("pid", program)
        return int(answer) if answer.isdigit() else 0

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, as a terminal sends it; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)


def platform_env(data_dir: Path, chain_port: int, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "synod.config.settings.local",
        "SYNOD_DATA_DIR": str(data_dir),
        "CHAIN_RPC_URL": f"http://127.0.0.1:{chain_port}",
        **overrides,
    }
    for inherited in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        if inherited not in overrides:
            env.pop(inherited, None)
    return env


def start_platform(
    env: dict[str, str], data_dir: Path, http_port: int, chain_port: int, *args: str
) -> RunningPlatform:
    log = data_dir.parent / "run.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_platform", "--addr", f"127.0.0.1:{http_port}", *args],
        cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    return RunningPlatform(process, env, data_dir, log, http_port, chain_port)


@contextmanager
def postgres_and_redis() -> Iterator[dict[str, str] | None]:
    """A fresh PostgreSQL database and a Redis database, or None when they do not answer."""
    if not (answers("127.0.0.1", 5432) and answers("127.0.0.1", 6379)):
        yield None
        return
    import psycopg
    import redis

    database = f"synod_run_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        yield {
            "DATABASE_URL": POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}",
            "CELERY_BROKER_URL": REDIS_URL,
        }
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextmanager
def running_platform(
    config: str, *args: str, base_dir: Path | None = None, **env_overrides: str
) -> Iterator[RunningPlatform | None]:
    """A healthy platform for the block's duration ("embedded" or "postgres+redis"), stopped
    with Ctrl-C afterwards; None for "postgres+redis" when those servers do not answer."""
    services = postgres_and_redis() if config == "postgres+redis" else no_services()
    with tempfile.TemporaryDirectory(prefix="synod-run-", dir=base_dir) as tmp, services as found:
        if found is None:
            yield None
            return
        data_dir = Path(tmp) / "data"
        chain_port, http_port = free_port(), free_port()
        env = platform_env(data_dir, chain_port, **found, **env_overrides)
        platform = start_platform(env, data_dir, http_port, chain_port, "--no-demo", *args)
        try:
            platform.wait_healthy()
            yield platform
        finally:
            if platform.process.poll() is None:
                platform.interrupt()


@contextmanager
def no_services() -> Iterator[dict[str, str]]:
    yield {}
