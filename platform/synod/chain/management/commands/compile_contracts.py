import time

from django.core.management.base import BaseCommand, CommandError

from synod.chain.compiler import CompilationError, compile_contracts


class Command(BaseCommand):
    help = "Compile the Solidity contracts under contracts/src (cached by source hash)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="ignore the build cache")

    def handle(self, *args, force: bool = False, **options):
        started = time.monotonic()
        try:
            result = compile_contracts(force=force)
        except CompilationError as exc:
            raise CommandError(f"compilation failed:\n{exc}") from exc
        elapsed = time.monotonic() - started
        how = "up to date (cached)" if result.cached else f"compiled in {elapsed:.1f}s"
        self.stdout.write(
            self.style.SUCCESS(f"{len(result.contracts)} contracts {how} → {result.build_dir}")
        )
