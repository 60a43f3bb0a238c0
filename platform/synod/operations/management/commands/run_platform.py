"""Starts the whole platform on one machine: broker, chain, contracts, web, worker and beat,
under a supervisor that restarts whatever dies. Ctrl-C stops all of it."""

import os
import shutil
import sys
from urllib.parse import urlparse

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from synod.chain import selectors as chain_selectors
from synod.common import embedded_broker
from synod.operations.supervision import Program, write_config


def _chain_is_local_and_down() -> bool:
    url = urlparse(settings.CHAIN_RPC_URL)
    if url.hostname not in {"127.0.0.1", "localhost"}:
        return False
    return not chain_selectors.node_answers(settings.CHAIN_RPC_URL, timeout_s=1)


def platform_programs(*, addr: str, concurrency: int, no_demo: bool) -> list[Program]:
    python = sys.executable
    manage = [python, str(settings.REPO_DIR / "manage.py")]
    celery = [python, "-m", "celery", "-A", "synod"]
    programs = []
    if embedded_broker.is_embedded(settings.CELERY_BROKER_URL, settings.BROKER_DIR):
        settings.BROKER_DIR.mkdir(parents=True, exist_ok=True)
        programs.append(
            Program("broker", embedded_broker.server_command(settings.BROKER_DIR), priority=10)
        )
    if _chain_is_local_and_down():
        programs.append(Program("chain", [*manage, "run_chain"], priority=10))
    programs += [
        Program(
            "web",
            [python, "-m", "gunicorn", "synod.config.wsgi:application",
             "--config", "python:synod.config.gunicorn", "--bind", addr],
            priority=20,
        ),
        Program(
            "bootstrap",
            [*manage, "bootstrap_platform", *(["--no-demo"] if no_demo else [])],
            priority=25,
            one_shot=True,
        ),
        Program(
            "worker",
            [*celery, "worker", "--loglevel", "INFO", "--concurrency", str(concurrency),
             "--hostname", "provider-local@%h"],
            priority=30,
            # A warm shutdown lets running tasks finish (they are acknowledged late, so a task
            # cut short is delivered again after the next start).
            stop_wait_s=20,
        ),
        Program(
            "beat",
            [*celery, "beat", "--loglevel", "INFO",
             "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
            priority=30,
        ),
    ]  # fmt: skip
    return programs


class Command(BaseCommand):
    help = "Migrate, then run broker and chain (if local), web, Celery worker and beat, supervised."

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

        programs = platform_programs(addr=addr, concurrency=concurrency, no_demo=no_demo)
        if not any(program.name == "chain" for program in programs):
            self.stdout.write(f"Using the chain at {settings.CHAIN_RPC_URL}")
        run_dir = settings.DATA_DIR / "run"
        config = write_config(programs, run_dir=run_dir, working_dir=settings.REPO_DIR)
        self.stdout.write(
            self.style.SUCCESS(f"Starting Synod on http://{addr}  (Ctrl-C stops everything)")
        )
        self.stdout.write(
            f"Processes: {', '.join(p.name for p in programs)}. "
            f"Inspect them with: {sys.executable} -m supervisor.supervisorctl -c {config} status"
        )
        self.stdout.flush()
        os.environ["PYTHONPATH"] = str(settings.REPO_DIR / "platform")
        os.environ["PYTHONUNBUFFERED"] = "1"
        supervisord = shutil.which("supervisord", path=os.path.dirname(sys.executable))
        argv = [supervisord or "supervisord", "--nodaemon", "--configuration", str(config)]
        # exec: Ctrl-C and the test's SIGINT reach supervisord itself.
        os.execv(argv[0], argv)
