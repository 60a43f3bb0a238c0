import os
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a local anvil node for CHAIN_RPC_URL, keeping its state under the data dir."

    def add_arguments(self, parser):
        parser.add_argument("--block-time", type=float, default=settings.CHAIN_BLOCK_TIME_S)

    def handle(self, *args, block_time: float, **options):
        url = urlparse(settings.CHAIN_RPC_URL)
        if url.hostname not in {"127.0.0.1", "localhost"}:
            raise CommandError(f"{settings.CHAIN_RPC_URL} is not local; nothing to run")
        binary = settings.ANVIL_BINARY
        if not os.access(binary, os.X_OK):
            raise CommandError(f"anvil not found at {binary}; run `npm ci`")
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        state = settings.DATA_DIR / "anvil-state.json"
        argv = [
            binary,
            "--host", "127.0.0.1",
            "--port", str(url.port or 8545),
            "--chain-id", str(settings.CHAIN_ID),
            "--block-time", str(block_time),
            # The chain outlives restarts, so the database mirror of it stays true.
            "--state", str(state),
            "--state-interval", "5",
            "--silent",
        ]  # fmt: skip
        # exec: the process manager's signals reach anvil itself, which then dumps its state.
        os.execv(binary, argv)
