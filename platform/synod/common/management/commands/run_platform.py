"""Starts the whole platform on one machine: chain, contracts, web, worker and beat.

Ctrl-C stops every process (honcho forwards the signal and waits for each to exit).
"""

import os
import shlex
import sys
from urllib.parse import urlparse

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from honcho.manager import Manager

from synod.chain.client import make_web3


def _chain_is_local_and_down() -> bool:
    url = urlparse(settings.CHAIN_RPC_URL)
    if url.hostname not in {"127.0.0.1", "localhost"}:
        return False
    try:
        _ = make_web3(settings.CHAIN_RPC_URL, timeout=1).eth.chain_id
    except Exception:
        return True
    return False


class Command(BaseCommand):
    help = "Migrate, then run chain (if local), web, Celery worker and beat together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("SYNOD_HTTP_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument(
            "--no-demo", action="store_true", help="skip the demo content on a local chain"
        )

    def handle(self, *args, addr: str, concurrency: int, no_demo: bool, **options):
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        self.stdout.write(self.style.MIGRATE_HEADING("Preparing the database and contracts"))
        call_command("migrate", interactive=False, verbosity=1)
        call_command("compile_contracts")

        python = shlex.quote(sys.executable)
        manage = f"{python} {shlex.quote(str(settings.REPO_DIR / 'manage.py'))}"
        celery = f"{python} -m celery -A synod"
        env = {
            **os.environ,
            "PYTHONPATH": str(settings.REPO_DIR / "platform"),
            "PYTHONUNBUFFERED": "1",
        }
        manager = Manager()
        if _chain_is_local_and_down():
            manager.add_process("chain", f"exec {manage} run_chain", env=env)
        else:
            self.stdout.write(f"Using the chain already answering at {settings.CHAIN_RPC_URL}")
        demo_flag = " --no-demo" if no_demo else ""
        manager.add_process("web", f"exec {manage} serve_web {addr}{demo_flag}", env=env)
        manager.add_process(
            "worker",
            f"exec {celery} worker --loglevel INFO --concurrency {concurrency} "
            f"--hostname provider-local@%h",
            env=env,
        )
        manager.add_process(
            "beat",
            f"exec {celery} beat --loglevel INFO "
            f"--schedule {shlex.quote(settings.CELERY_BEAT_SCHEDULE_FILENAME)}",
            env=env,
        )
        self.stdout.write(self.style.SUCCESS(f"Starting Synod on http://{addr}  (Ctrl-C stops)"))
        manager.loop()
        sys.exit(manager.returncode)
