"""On PostgreSQL, a user whose deposit covers N calls fires 4N concurrent calls through the
ledger: exactly N are charged, the rest refused with 402, and no figure goes negative."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.support.platform_process import postgres_and_redis

CALLS_COVERED = 25


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=settings.REPO_DIR, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_four_n_concurrent_calls_on_a_deposit_for_n_charge_exactly_n():
    with postgres_and_redis() as services:
        if services is None:
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "DATABASE_URL": services["DATABASE_URL"],
            "DJANGO_SETTINGS_MODULE": "synod.config.settings.test",
            "PYTHONPATH": os.pathsep.join([str(settings.REPO_DIR / "platform"),
                                           str(settings.REPO_DIR)]),
        }  # fmt: skip
        _run(["manage.py", "migrate", "--noinput"], env)
        out = _run(["-m", "tests.tickets.reserve_worker", str(CALLS_COVERED)], env)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["vendor"] == "postgresql"
    assert result["charged"] == result["rows_charged"] == CALLS_COVERED
    assert result["refused"] == 3 * CALLS_COVERED
    assert result["account"] == [0, CALLS_COVERED, CALLS_COVERED]
