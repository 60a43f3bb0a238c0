"""The web process of `run_platform`: deploy (or reuse) the contracts, queue the demo
content, then serve. One process, so Django and its libraries start once, not three times."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from synod.common.tasks import seed_demo


class Command(BaseCommand):
    help = "Deploy or reuse the contracts, queue the local demo content, then run the web server."

    def add_arguments(self, parser):
        parser.add_argument("addr", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true")
        parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the chain")

    def handle(self, *args, addr: str, no_demo: bool, wait: float, **options):
        call_command("deploy_contracts", wait=wait)
        if not no_demo:
            seed_demo.delay()
            self.stdout.write("Demo content queued: a worker builds it in the background.")
        call_command("runserver", addr, use_reloader=False)
