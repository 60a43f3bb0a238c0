import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synod.chain.client import make_web3, operator_account, signing_web3
from synod.chain.compiler import CompilationError, compile_contracts
from synod.chain.deployment import deploy_contracts, deployment_path


def wait_for_chain(rpc_url: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    w3 = make_web3(rpc_url, timeout=2)
    while True:
        try:
            return w3.eth.chain_id
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Command(BaseCommand):
    help = "Deploy the contract suite to CHAIN_RPC_URL and record it per chain id (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait", type=float, default=0, help="seconds to wait for the chain to answer"
        )

    def handle(self, *args, wait: float = 0, **options):
        try:
            compile_contracts()
        except CompilationError as exc:
            raise CommandError(f"compilation failed:\n{exc}") from exc
        try:
            chain_id = wait_for_chain(settings.CHAIN_RPC_URL, wait)
        except Exception as exc:
            raise CommandError(f"no chain answers at {settings.CHAIN_RPC_URL}: {exc}") from exc
        if chain_id != settings.CHAIN_ID:
            raise CommandError(
                f"the node at {settings.CHAIN_RPC_URL} is chain {chain_id}, "
                f"but CHAIN_ID is {settings.CHAIN_ID}"
            )
        account = operator_account()
        w3 = signing_web3(account)
        deployed = deploy_contracts(
            w3=w3,
            account=account,
            on_progress=lambda name, what: self.stdout.write(f"  {name}: {what}"),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(deployed)} contracts on chain {chain_id} → {deployment_path(chain_id)}"
            )
        )
