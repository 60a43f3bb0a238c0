"""The one-shot start-up step of `run_platform`: deploy (or reuse) the contracts once the chain
answers, then queue the local demo content. Run under the supervisor, which retries it with
backoff if it fails; every step is idempotent."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from synod.operations.tasks import seed_demo


class Command(BaseCommand):
    help = "Deploy or reuse the contracts, then queue the local demo content."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true")
        parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the chain")

    def handle(self, *args, no_demo: bool, wait: float, **options):
        call_command("deploy_contracts", wait=wait)
        if not no_demo:
            seed_demo.delay()
            self.stdout.write("Demo content queued: a worker builds it in the background.")
