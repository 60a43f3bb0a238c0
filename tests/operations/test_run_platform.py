"""The README's run command end to end, on the embedded defaults and on PostgreSQL + Redis:
one command brings up broker, chain, contracts, web, worker and beat under a supervisor; it
stays up under a burst of requests; a killed worker comes back and gets its task again;
Ctrl-C stops all of it; a second start reuses what the first built."""

from __future__ import annotations

import http.client
import os
import signal
import sqlite3
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from celery import Celery

from bench.burst import burst, summary
from synod.common import embedded_broker
from tests.support.platform_process import (
    RunningPlatform,
    answers,
    free_port,
    no_services,
    platform_env,
    postgres_and_redis,
    running_platform,
    start_platform,
)

pytestmark = pytest.mark.slow
CONFIGS = ["embedded", "postgres+redis"]
BURST_SECONDS = float(os.environ.get("SYNOD_BURST_SECONDS", "60"))


def _skip_without_services(config: str, platform) -> None:
    if platform is None:
        pytest.skip(f"{config}: PostgreSQL (5432) and Redis (6379) must both answer on 127.0.0.1")


@pytest.fixture(scope="module", params=CONFIGS)
def platform(request, tmp_path_factory) -> Iterator[RunningPlatform]:
    """One running platform per configuration for the tests below. Deliveries held by a dead
    worker come back after 5 s, and pages are not rate-limited (the burst measures serving)."""
    with running_platform(
        request.param,
        base_dir=tmp_path_factory.mktemp("platform"),
        CELERY_BROKER_VISIBILITY_TIMEOUT_S="5",
        SYNOD_WEB_RATE="1000000/minute",
    ) as running:
        _skip_without_services(request.param, running)
        yield running
        exit_code = running.interrupt()
        assert exit_code == 0, running.output()[-3000:]
        assert not answers("127.0.0.1", running.http_port)
        assert not answers("127.0.0.1", running.chain_port)


def test_a_burst_of_requests_gets_no_5xx_and_leaves_the_platform_healthy(platform):
    result = burst(platform.url, seconds=BURST_SECONDS, processes=4)
    print(summary(platform.env.get("DATABASE_URL", "embedded"), result))
    assert result.requests > 100
    assert result.errors == {}, f"requests without an answer: {result.errors}"
    assert result.server_errors == 0, (result.per_status, result.server_error_bodies)
    assert set(result.per_status) <= {"200", "429"}, result.per_status
    assert platform.wait_healthy(timeout=30)["healthy"]
    # What visitors see is asserted above; anything the processes logged is shown, not judged
    # (a task may log a handled error while its process keeps running).
    output = platform.output()
    if "Traceback" in output:
        print("logged during the run:", output[output.index("Traceback") - 500 :][:4000])


@pytest.mark.parametrize(
    "path",
    ["/static/../manage.py", "/static/%2e%2e/manage.py", "/static/..%2fmanage.py",
     "/static/../../etc/passwd", "/no/such/page", "/api/v1/no-such-thing"],
)  # fmt: skip
def test_hostile_and_unknown_paths_get_a_plain_404(platform, path):
    connection = http.client.HTTPConnection("127.0.0.1", platform.http_port, timeout=10)
    connection.request("GET", path)  # sent as written: no client-side normalisation
    response = connection.getresponse()
    body = response.read().decode(errors="replace")
    connection.close()
    assert response.status == 404, body[:500]
    for leak in ("Traceback", "URLconf", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "import "):
        assert leak not in body


def test_the_web_server_is_gunicorn_and_serves_static_files(platform):
    processes = platform.supervisorctl("status")
    assert "web" in processes and "RUNNING" in processes
    with urllib.request.urlopen(f"{platform.url}/static/css/synod.css", timeout=10) as css:
        assert css.status == 200
    with urllib.request.urlopen(f"{platform.url}/", timeout=10) as page:
        assert page.headers["Server"].startswith("gunicorn")


def _probe_row(platform: RunningPlatform, service: str) -> bool:
    database_url = platform.env.get("DATABASE_URL")
    query = "SELECT 1 FROM common_serviceheartbeat WHERE service = %s"
    if database_url:
        with psycopg.connect(database_url) as conn:
            return conn.execute(query, (service,)).fetchone() is not None
    with sqlite3.connect(platform.data_dir / "synod.sqlite3", timeout=10) as conn:
        return conn.execute(query.replace("%s", "?"), (service,)).fetchone() is not None


def _wait_for(condition, timeout: float, what: str, platform: RunningPlatform) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f} s\n{platform.output()[-3000:]}")
        time.sleep(0.2)


def test_a_killed_worker_is_restarted_and_its_task_delivered_again(platform):
    broker_url = platform.env.get("CELERY_BROKER_URL") or embedded_broker.url(
        platform.data_dir / "broker"
    )
    app = Celery("probe", broker=broker_url)
    marker = uuid.uuid4().hex
    old_pid = platform.pid("worker")
    app.send_task("synod.common.tasks.probe", args=[marker, 4.0])
    _wait_for(lambda: _probe_row(platform, f"probe-started:{marker}"), 30, "task started", platform)

    os.kill(old_pid, signal.SIGKILL)
    # The supervisor starts a new worker; the task the dead one held is delivered again.
    _wait_for(
        lambda: _probe_row(platform, f"probe-done:{marker}"), 90, "task finished again", platform
    )
    new_pid = platform.pid("worker")
    assert new_pid != old_pid
    assert "exited: worker (terminated by SIGKILL; not expected)" in platform.output()
    assert "spawned: 'worker'" in platform.output()
    body = platform.wait_healthy(timeout=30)
    assert body["workers"]["data"]["count"] >= 1
    app.close()


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [
        int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()
    ]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_every_supervised_process_killed_comes_back(platform):
    """web, beat, chain and the embedded broker: each SIGKILLed in turn is restarted, the
    platform is healthy again, and a task still makes the round trip to a worker."""
    programs = platform.supervisorctl("status")
    for program in ("web", "beat", "chain", "broker"):
        if program not in programs:  # no embedded broker when CELERY_BROKER_URL names one
            continue
        old_pid = platform.pid(program)
        old_children = _children(old_pid)  # gunicorn's workers, for the web server
        os.kill(old_pid, signal.SIGKILL)
        _wait_for(
            lambda p=program, old=old_pid: platform.pid(p) not in (0, old),
            60, f"{program} restarted", platform,
        )  # fmt: skip
        # Nothing of the killed process lives on (no orphaned workers holding memory).
        _wait_for(
            lambda kids=old_children: not any(_alive(kid) for kid in kids),
            10, f"{program}'s old child processes gone", platform,
        )  # fmt: skip
        try:
            platform.wait_healthy(timeout=90)
        except AssertionError as exc:
            # What the supervisor did with the program says why (gave up, crash loop, ...).
            said = [
                line for line in platform.output().splitlines()
                if f" {program}" in line and ("spawned" in line or "exited" in line
                                              or "gave up" in line or "success" in line)
            ]  # fmt: skip
            raise AssertionError(
                f"{program} killed, platform not healthy again\n"
                f"{platform.supervisorctl('status')}\n" + "\n".join(said[-20:]) + f"\n{exc}"
            ) from None
        assert f"exited: {program} (terminated by SIGKILL; not expected)" in platform.output()

    broker_url = platform.env.get("CELERY_BROKER_URL") or embedded_broker.url(
        platform.data_dir / "broker"
    )
    app = Celery("probe", broker=broker_url)
    marker = uuid.uuid4().hex
    app.send_task("synod.common.tasks.probe", args=[marker, 0.0])
    _wait_for(lambda: _probe_row(platform, f"probe-done:{marker}"), 60, "task done", platform)
    app.close()


@pytest.mark.parametrize("config", CONFIGS)
def test_one_command_runs_the_platform_and_ctrl_c_stops_it(config, tmp_path):
    with postgres_and_redis() if config == "postgres+redis" else no_services() as services:
        _skip_without_services(config, services)
        chain_port, http_port = free_port(), free_port()
        data_dir = tmp_path / "data"
        env = platform_env(data_dir, chain_port, **services)

        # The README's `make run` (SQLite, embedded broker) starts with the demo content, and
        # this checks it is queued; the cluster configuration boots without it (--no-demo).
        with_demo = config == "embedded"
        boot_args = () if with_demo else ("--no-demo",)
        first = start_platform(env, data_dir, http_port, chain_port, *boot_args)
        try:
            body = first.wait_healthy()
            if with_demo:
                _wait_for(lambda: "Demo content queued" in first.output(), 60, "demo", first)
        finally:
            exit_code = first.interrupt()
        assert body["chain"]["data"]["chain_id"] == 31337
        assert body["chain"]["data"]["block_number"] >= 1
        assert "PromptTicket" in body["chain"]["data"]["contracts"]
        assert body["workers"]["data"]["count"] >= 1
        expected_db = "postgresql" if "DATABASE_URL" in services else "sqlite"
        assert expected_db in body["database"]["detail"]
        output = first.output()
        assert "deployed at" in output
        assert ("Demo content queued" in output) == with_demo, output[-3000:]
        assert exit_code == 0, output[-3000:]
        # Everything it started is gone: the ports are free again, and the broker too.
        assert not answers("127.0.0.1", http_port)
        assert not answers("127.0.0.1", chain_port)
        assert not embedded_broker.answers(data_dir / "broker")

        # The second start reuses the chain state and the deployment instead of redeploying.
        second = start_platform(env, data_dir, http_port, chain_port, "--no-demo")
        try:
            again = second.wait_healthy()
        finally:
            second.interrupt()
        assert again["chain"]["data"]["contracts"] == body["chain"]["data"]["contracts"]
        assert "reused at" in second.output()
