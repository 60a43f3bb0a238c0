import time

from django.core.management.base import BaseCommand

from synod.common.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Build the demo datasets, models and evaluations and run a demo governance round "
        "(local dev chain only; idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--background", action="store_true", help="queue it for a Celery worker instead"
        )

    def handle(self, *args, background: bool = False, **options):
        if background:
            from synod.common.tasks import seed_demo as seed_demo_task

            seed_demo_task.delay()
            self.stdout.write("Demo content queued: a worker builds it in the background.")
            return
        started = time.monotonic()
        seeded = seed_demo(progress=lambda line: self.stdout.write(f"  {line}"))
        if seeded:
            self.stdout.write(
                self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.1f}s")
            )
