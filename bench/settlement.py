"""Settlement gas: one `TicketEscrow.settle` for N metered calls, against paying each call with
its own ERC-20 `transfer` from the user to the provider, both measured in this run on a fresh
anvil node.

    .venv/bin/python bench/settlement.py [--transfers 50] [--seed 11]

Ten users deposit tickets and sign a spending allowance (EIP-712, relayed through
`setSpendingAllowance`); three providers stake and register. Each batch is N calls of 1-5
tickets, each to a user and a provider drawn at random; every call gets a receipt signed by its
provider (synod_core.receipts, in the deployed ProviderRegistry's domain), the batch's root is
the Merkle root of those receipts (synod_core.merkle), and the amounts are aggregated per user
and per provider the way the platform's settlement does it
(synod.tickets.services.settlement.split_batch), so the transaction carries 10 debit lines and
3 credit lines whatever N is (fewer for the smallest batches, when some user or provider has
no call). A first batch of 100 calls creates the providers' and the treasury's credit slots,
so every batch in the table is in the steady state (the first batch is reported separately).
The baseline is the mean gas of `--transfers` real `PromptTicket.transfer` calls from users to
providers who already hold tickets.

Figures go to bench/results/settlement.json and into the "Settlement gas" section of
docs/performance.md (between its markers)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synod.config.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import override_settings  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402

from synod.chain.client import signing_web3  # noqa: E402
from synod.chain.compiler import compile_contracts  # noqa: E402
from synod.chain.deployment import deploy_contracts  # noqa: E402
from synod.chain.devnode import start_devnode  # noqa: E402
from synod.chain.management.commands.gas_report import (  # noqa: E402
    SETTLEMENT_INDEX,
    Bench,
    GasReport,
    approve_model,
    dev_key,
    sign_spending_allowance,
)
from synod.tickets.services.settlement import split_batch  # noqa: E402
from synod_core.merkle import MerkleTree, receipt_leaf, verify_proof  # noqa: E402
from synod_core.receipts import Receipt, ReceiptDomain, receipt_digest, sign_receipt  # noqa: E402

RESULTS = REPO / "bench" / "results" / "settlement.json"
DOC = REPO / "docs" / "performance.md"
START_MARKER = "<!-- settlement-gas:start -->"
END_MARKER = "<!-- settlement-gas:end -->"
CALL_COUNTS = (10, 100, 1_000, 10_000)
# The unmeasured first batch: enough calls for a nonzero fee and all three providers.
WARM_UP_CALLS = 100
USERS, PROVIDERS = 10, 3
MIN_TICKETS, MAX_TICKETS = 1, 5
DEPOSIT = 20_000  # per user: every batch of this run fits
WALLET_TICKETS = 1_000  # per user, kept in the wallet for the transfer baseline
GOAL_GAS_PER_CALL, GOAL_CALLS = 150, 1_000
COMMAND = ".venv/bin/python bench/settlement.py"


@dataclass(frozen=True)
class Row:
    calls: int
    batch: int
    settle_gas: int
    gas_per_call: float
    transfer_gas_per_call: float
    ratio: float  # transfers' gas / settle's gas
    debit_lines: int
    credit_lines: int
    tickets: int
    fee: int
    receipts_root: str


def keyed_accounts(label: str, count: int) -> list:
    """Deterministic keys of this bench's own (anvil accepts any sender when impersonating,
    but allowances and receipts need real signatures)."""
    return [Account.from_key(keccak(text=f"synod-bench-{label}-{i}")) for i in range(count)]


class SettlementBench:
    def __init__(self, bench: Bench, model: bytes, seed: int):
        self.bench = bench
        self.w3 = bench.w3
        self.model = model
        self.rng = random.Random(seed)
        self.ticket = bench.contract("PromptTicket")
        self.escrow = bench.contract("TicketEscrow")
        self.registry = bench.contract("ProviderRegistry")
        self.settler = self.w3.eth.accounts[SETTLEMENT_INDEX]
        self.users = keyed_accounts("user", USERS)
        self.providers = keyed_accounts("provider", PROVIDERS)
        self.domain = ReceiptDomain.from_eip5267(self.registry.functions.eip712Domain().call())
        self.fee_bps = self.escrow.functions.feeBps().call()
        self.jobs = 0

    def set_up(self) -> None:
        addresses = [u.address for u in self.users]
        self.bench.register_many([p.address for p in self.providers], self.model)
        self.bench.deposit_many(addresses, DEPOSIT)
        price = self.ticket.functions.ticketPrice().call()
        self.bench.send_many(
            [(a, self.ticket.functions.buy(), price * WALLET_TICKETS) for a in addresses]
        )
        valid_until = self.w3.eth.get_block("latest")["timestamp"] + 30 * 86_400
        relayer = self.w3.eth.accounts[4]
        for user in self.users:
            signature = sign_spending_allowance(
                self.escrow, user.key, max_tickets=DEPOSIT, valid_until=valid_until
            )
            call = self.escrow.functions.setSpendingAllowance(
                user.address, DEPOSIT, valid_until, signature
            )
            self.bench.send(call, relayer)

    def calls(self, count: int) -> list[SimpleNamespace]:
        """`count` metered calls, each with its provider's signed receipt."""
        served_at = self.w3.eth.get_block("latest")["timestamp"]
        made = []
        for _ in range(count):
            self.jobs += 1
            user = self.rng.choice(self.users)
            provider = self.rng.choice(self.providers)
            price = self.rng.randint(MIN_TICKETS, MAX_TICKETS)
            receipt = Receipt(
                provider=provider.address,
                model_hash=self.model,
                job_id=keccak(text=f"bench-job-{self.jobs}"),
                request_hash=keccak(text=f"bench-request-{self.jobs}"),
                output_hash=keccak(text=f"bench-output-{self.jobs}"),
                tickets_charged=price,
                served_at=served_at,
            )
            signature = sign_receipt(receipt, provider.key, self.domain)
            made.append(
                SimpleNamespace(
                    account=SimpleNamespace(address=user.address),
                    provider=provider.address,
                    price=price,
                    receipt=receipt,
                    signature=signature,
                    leaf=receipt_leaf(receipt_digest(receipt, self.domain)),
                )
            )
        return made

    def settle(self, count: int) -> tuple[int, dict]:
        calls = self.calls(count)
        debits, credits, fee = split_batch(calls, self.fee_bps)
        tree = MerkleTree([call.leaf for call in calls])
        batch = self.escrow.functions.nextBatch().call()
        call = self.escrow.functions.settle(batch, tree.root, debits, credits, fee)
        tx_hash = call.transact({"from": self.settler})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"settle of batch {batch} reverted")
        (event,) = self.escrow.events.BatchSettled().process_receipt(receipt)
        # What a user's verifier does: its call's receipt, the proof, the root in the log.
        sample = self.rng.choice(calls)
        if not verify_proof(sample.leaf, tree.proof(sample.leaf), event.args.receiptsRoot):
            raise RuntimeError("a receipt's proof does not verify against the logged root")
        return receipt["gasUsed"], {
            "batch": batch,
            "debit_lines": len(debits),
            "credit_lines": len(credits),
            "tickets": sum(amount for _, amount in debits),
            "fee": fee,
            "receipts_root": "0x" + tree.root.hex(),
        }

    def transfer_gas(self, sample: int) -> list[int]:
        """Gas of `sample` real user → provider ticket transfers of 1-5 tickets, after each
        provider was paid once (a provider who already holds tickets, as in steady use)."""
        for provider in self.providers:
            self.bench.send(
                self.ticket.functions.transfer(provider.address, 1), self.users[0].address
            )
        gas = []
        for _ in range(sample):
            user = self.rng.choice(self.users)
            provider = self.rng.choice(self.providers)
            price = self.rng.randint(MIN_TICKETS, MAX_TICKETS)
            call = self.ticket.functions.transfer(provider.address, price)
            gas.append(self.bench.send(call, user.address))
        return gas


def anvil_version() -> str:
    out = subprocess.run(
        [settings.ANVIL_BINARY, "--version"], capture_output=True, text=True, check=False
    )
    first = out.stdout.strip().splitlines()[0] if out.stdout.strip() else "unknown"
    return first.replace("Version: ", "")


def run(transfers: int, seed: int) -> dict:
    compile_contracts()
    node = start_devnode()
    try:
        with (
            tempfile.TemporaryDirectory() as records,
            override_settings(
                CHAIN_RPC_URL=node.url,
                DEPLOYMENTS_DIR=Path(records),
                OPERATOR_PRIVATE_KEY=dev_key(0),
                SETTLEMENT_PRIVATE_KEY=dev_key(SETTLEMENT_INDEX),
            ),
        ):
            deployer = Account.from_key(dev_key(0))
            deployed = deploy_contracts(w3=signing_web3(deployer, node.url), account=deployer)
            bench = Bench(node, deployed)
            model = approve_model(bench, GasReport())
            sb = SettlementBench(bench, model, seed)
            sb.set_up()
            started = time.monotonic()
            first_gas, first = sb.settle(WARM_UP_CALLS)
            if first["fee"] == 0 or first["credit_lines"] != PROVIDERS:
                raise RuntimeError("the first batch left a credit slot empty; use more calls")
            transfer_samples = sb.transfer_gas(transfers)
            transfer_mean = statistics.fmean(transfer_samples)
            rows = []
            for count in CALL_COUNTS:
                gas, info = sb.settle(count)
                rows.append(
                    Row(
                        calls=count,
                        settle_gas=gas,
                        gas_per_call=round(gas / count, 1),
                        transfer_gas_per_call=round(transfer_mean, 1),
                        ratio=round(transfer_mean * count / gas, 1),
                        **info,
                    )
                )
                print(f"settled {count:,} calls: {gas:,} gas", flush=True)
            elapsed = time.monotonic() - started
    finally:
        node.stop()
    goal_row = next(row for row in rows if row.calls == GOAL_CALLS)
    return {
        "command": COMMAND + (f" --transfers {transfers}" if transfers != 50 else ""),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "node": anvil_version(),
        "seed": seed,
        "users": USERS,
        "providers": PROVIDERS,
        "tickets_per_call": [MIN_TICKETS, MAX_TICKETS],
        "fee_bps": sb.fee_bps,
        "first_batch": {"calls": WARM_UP_CALLS, "settle_gas": first_gas, **first},
        "transfer_sample": {
            "transfers": transfers,
            "mean_gas": round(transfer_mean, 1),
            "min_gas": min(transfer_samples),
            "max_gas": max(transfer_samples),
        },
        "rows": [asdict(row) for row in rows],
        "goal": {
            "calls": GOAL_CALLS,
            "max_gas_per_call": GOAL_GAS_PER_CALL,
            "measured_gas_per_call": goal_row.gas_per_call,
            "met": goal_row.gas_per_call <= GOAL_GAS_PER_CALL,
        },
        "seconds": round(elapsed, 1),
    }


def table(result: dict) -> str:
    lines = [
        "| calls | lines (users + providers) | settle gas | gas per call "
        "| transfer gas per call | transfers / settle |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['calls']:,} | {row['debit_lines']} + {row['credit_lines']} "
            f"| {row['settle_gas']:,} | {row['gas_per_call']:,.1f} "
            f"| {row['transfer_gas_per_call']:,.0f} | {row['ratio']:,.1f} |"
        )
    return "\n".join(lines)


def section(result: dict) -> str:
    first, sample, goal = result["first_batch"], result["transfer_sample"], result["goal"]
    measured = goal["measured_gas_per_call"]
    verdict = (
        f"met, {measured:,.1f} gas per call"
        if goal["met"]
        else f"**missed** by {measured - goal['max_gas_per_call']:,.1f} gas, "
        f"{measured:,.1f} gas per call"
    )
    spread = (
        f"each {sample['min_gas']:,} gas"
        if sample["min_gas"] == sample["max_gas"]
        else f"{sample['min_gas']:,} to {sample['max_gas']:,} gas each"
    )
    intro = (
        f"Measured {result['measured_at']} on {result['machine']}, {result['node']}; "
        f"{result['users']} users, {result['providers']} providers, "
        f"{result['tickets_per_call'][0]}-{result['tickets_per_call'][1]} tickets a call, "
        f"fee {result['fee_bps']} bps, seed {result['seed']}. Reproduce with:"
    )
    outro = (
        f"Goal (issue 11): at most {goal['max_gas_per_call']} gas per call at "
        f"{goal['calls']:,} calls, root included: {verdict}. The transfer baseline is the "
        f"mean of {sample['transfers']} real transfers ({spread}). The chain's first batch "
        f"({first['calls']} calls, not in the table) cost {first['settle_gas']:,} gas: it "
        "also created the providers' and the treasury's credit slots (zero to nonzero)."
    )
    parts = [textwrap.fill(intro, 96), f"    {result['command']}", table(result)]
    return "\n\n".join([*parts, textwrap.fill(outro, 96)])


def write_doc(result: dict) -> None:
    block = f"{START_MARKER}\n{section(result)}\n{END_MARKER}"
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    if START_MARKER in text and END_MARKER in text:
        head, rest = text.split(START_MARKER, 1)
        _, tail = rest.split(END_MARKER, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n## Settlement gas\n\n" + block + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=50, help="baseline transfers to time")
    parser.add_argument("--seed", type=int, default=11, help="random calls' seed")
    parser.add_argument("--no-doc", action="store_true", help="leave docs/performance.md alone")
    args = parser.parse_args()
    result = run(args.transfers, args.seed)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_doc:
        write_doc(result)
    print(table(result))
    goal = result["goal"]
    print(
        f"goal: <= {goal['max_gas_per_call']} gas per call at {goal['calls']:,} calls: "
        f"{goal['measured_gas_per_call']} ({'met' if goal['met'] else 'missed'})"
    )


if __name__ == "__main__":
    main()
