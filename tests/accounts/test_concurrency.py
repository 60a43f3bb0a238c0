"""Two sign-ins racing with one nonce, in two processes on one SQLite file (as web workers
share it in production): exactly one wins, and exactly one user exists afterwards."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tests.accounts.siwe_helpers import build_message, dev_account, sign

TIMEOUT_S = 120


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CACHE_URL"}}
    env.update(
        SYNOD_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="synod.config.settings.test",
        PYTHONPATH=os.pathsep.join([str(settings.REPO_DIR / "platform"), str(settings.REPO_DIR)]),
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=settings.REPO_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_one_nonce_signs_in_once_under_concurrent_posts(tmp_path):
    env = _env(tmp_path)
    _run(["manage.py", "migrate", "--noinput", "--skip-checks", "-v", "0"], env)
    nonce = _run(["-m", "tests.accounts.race_helper", "issue"], env).strip()

    account = dev_account()
    message = build_message(address=account.address, nonce=nonce)
    message_file = tmp_path / "message.txt"
    message_file.write_text(message)
    go_file = tmp_path / "go"
    argv = [
        sys.executable, "-m", "tests.accounts.race_helper", "sign-in",
        str(message_file), sign(message, account), str(go_file),
    ]  # fmt: skip
    contenders = [
        subprocess.Popen(
            argv,
            env=env,
            cwd=settings.REPO_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for contender in contenders:
            assert contender.stdout.readline().strip() == "ready"
        go_file.touch()
        outcomes = []
        for contender in contenders:
            out, err = contender.communicate(timeout=TIMEOUT_S)
            assert contender.returncode == 0, err[-3000:]
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for contender in contenders:
            if contender.poll() is None:
                contender.kill()

    winners = [o for o in outcomes if o["ok"]]
    losers = [o for o in outcomes if not o["ok"]]
    assert len(winners) == 1, outcomes
    assert winners[0]["address"] == account.address
    assert len(losers) == 1 and losers[0]["status"] == 403
    assert "already been used" in losers[0]["detail"]

    with sqlite3.connect(tmp_path / "synod.sqlite3") as db:
        assert db.execute("SELECT address FROM accounts_user").fetchall() == [(account.address,)]
        used = db.execute("SELECT used_at IS NOT NULL FROM accounts_siwenonce").fetchall()
        assert used == [(1,)]
