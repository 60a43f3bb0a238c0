import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

import synod_core.abi
from synod.chain.compiler import CompilationError, compile_contracts, load_artifact


class Command(BaseCommand):
    help = "Compile the Solidity contracts under contracts/src (cached by source hash)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="ignore the build cache")
        parser.add_argument(
            "--write-core-abis",
            action="store_true",
            help="also write the ABIs synod_core ships (platform/synod_core/abi/*.json)",
        )

    def handle(self, *args, force: bool = False, write_core_abis: bool = False, **options):
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
        if write_core_abis:
            # The package's own directory: in an editable install that is the source tree.
            directory = Path(synod_core.abi.__file__).parent
            for name in synod_core.abi.CONTRACTS:
                abi = load_artifact(name)["abi"]
                (directory / f"{name}.json").write_text(synod_core.abi.dumps(abi))
            self.stdout.write(f"{len(synod_core.abi.CONTRACTS)} ABIs written → {directory}")
