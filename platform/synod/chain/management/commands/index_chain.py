import time

from django.core.management.base import BaseCommand, CommandError

from synod.chain import services


class Command(BaseCommand):
    help = "Index the events of the deployed contracts into the database (one pass, or --follow)."

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true", help="keep indexing new blocks")
        parser.add_argument(
            "--interval", type=float, default=2.0, help="seconds between passes with --follow"
        )

    def handle(self, *args, follow: bool = False, interval: float = 2.0, **options):
        while True:
            try:
                result = services.index_chain()
            except Exception as exc:
                if not follow:
                    raise CommandError(f"{type(exc).__name__}: {exc}") from exc
                # Following: a node that is down or restarting is waited out, not fatal.
                self.stderr.write(f"indexing failed: {type(exc).__name__}: {exc}")
                time.sleep(interval)
                continue
            if result.skipped:
                self.stdout.write("another indexer holds this chain's lease; skipped")
            elif result.events or result.rewound_to is not None or not follow:
                rewound = ""
                if result.rewound_to is not None:
                    rewound = f", rewound to block {result.rewound_to}"
                self.stdout.write(
                    f"chain {result.chain_id}: {result.events} new events, "
                    f"indexed to block {result.last_block}{rewound}"
                )
            if not follow:
                return
            time.sleep(interval)
