import time

from django.core.management.base import BaseCommand

from synod.operations.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Build the demo datasets, models and evaluations and run a demo governance round "
        "(local dev chain only; idempotent)."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        seeded = seed_demo(progress=lambda line: self.stdout.write(f"  {line}"))
        if seeded:
            self.stdout.write(
                self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.1f}s")
            )
