"""Measures the gas of the contract suite's main operations on a fresh anvil node and writes
the table into contracts/README.md, between the gas-report markers."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

from synod.chain import typed_data
from synod.chain.client import signing_web3
from synod.chain.compiler import CompilationError, compile_contracts, load_artifact
from synod.chain.deployment import deploy_contracts
from synod.chain.devnode import DevNode, start_devnode

# anvil's dev accounts come from this published mnemonic; the keys exist only on dev chains.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
SETTLE_SIZES = (1, 10, 100, 1_000)
PROVIDERS_PER_BATCH = 10
# anvil dev accounts: 0 deploys, 1-3 genesis holders, 9 the settlement key (escrow operator).
SETTLEMENT_INDEX = 9
SETUP_GAS = 300_000
START_MARKER = "<!-- gas-report:start -->"
END_MARKER = "<!-- gas-report:end -->"

Account.enable_unaudited_hdwallet_features()


def dev_key(index: int) -> str:
    account = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account.key.to_0x_hex()


def sign_spending_allowance(
    escrow, key: str, *, max_tickets: int, valid_until: int, nonce: int | None = None
) -> bytes:
    """`key`'s signature of a SpendingAllowance (nonce: the user's current one)."""
    signer = Account.from_key(key)
    message = typed_data.spending_allowance(
        escrow, user=signer.address, max_tickets=max_tickets, valid_until=valid_until, nonce=nonce
    )
    return Account.sign_message(encode_typed_data(full_message=message), signer.key).signature


@dataclass
class GasReport:
    rows: list[tuple[str, int, str]] = field(default_factory=list)

    def add(self, operation: str, gas: int, note: str = "") -> None:
        self.rows.append((operation, gas, note))

    def markdown(self) -> str:
        lines = ["| operation | gas | note |", "| --- | ---: | --- |"]
        lines += [f"| {op} | {gas:,} | {note} |" for op, gas, note in self.rows]
        return "\n".join(lines)


class Bench:
    """The deployed suite on the node, with every address allowed to send (impersonation)."""

    def __init__(self, node: DevNode, deployed: dict):
        self.node = node
        self.w3 = node.w3
        self.deployed = deployed
        node.rpc("anvil_autoImpersonateAccount", [True])
        for council in ("Data", "Model", "Compute"):
            self.fund(deployed[f"{council}Timelock"].address)  # pays gas when impersonated

    def contract(self, name: str):
        return self.w3.eth.contract(
            address=self.deployed[name].address, abi=load_artifact(name)["abi"]
        )

    def send(self, call, sender: str, *, value: int = 0) -> int:
        tx_hash = call.transact({"from": sender, "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise CommandError(f"transaction {Web3.to_hex(tx_hash)} reverted")
        return receipt["gasUsed"]

    def fund(self, address: str) -> None:
        self.node.rpc("anvil_setBalance", [address, hex(10**21)])

    def send_many(self, sends: list[tuple[str, object, int]]) -> None:
        """Send many prepared calls [(sender, call, value)] in one JSON-RPC batch: setting up
        a thousand depositors one request at a time takes minutes."""
        requests = [
            (
                "eth_sendTransaction",
                [
                    {
                        "from": sender,
                        "to": call.address,
                        "data": call._encode_transaction_data(),
                        "value": hex(value),
                        "gas": hex(SETUP_GAS),
                    }
                ],
            )
            for sender, call, value in sends
        ]
        tx_hashes = []
        for response in self.w3.provider.make_batch_request(requests):
            if "error" in response:
                raise CommandError(f"setup transaction failed: {response['error']}")
            tx_hashes.append(response["result"])
        deadline = time.monotonic() + 60
        while tx_hashes:
            receipts = self.w3.provider.make_batch_request(
                [("eth_getTransactionReceipt", [tx_hash]) for tx_hash in tx_hashes]
            )
            pending = []
            for tx_hash, response in zip(tx_hashes, receipts, strict=True):
                receipt = response.get("result")
                if receipt is None:
                    pending.append(tx_hash)
                elif int(receipt["status"], 16) != 1:
                    raise CommandError(f"setup transaction {tx_hash} reverted")
            tx_hashes = pending
            if tx_hashes and time.monotonic() > deadline:
                raise CommandError(f"{len(tx_hashes)} setup transactions were never mined")
            if tx_hashes:
                time.sleep(0.05)

    def deposit_many(self, users: list[str], tickets: int, *, allowance: int = 0) -> None:
        """Fund, deposit for, and (when `allowance`) approve spending for many users at once
        (the users' own approveSpending, valid for a day)."""
        ticket, escrow = self.contract("PromptTicket"), self.contract("TicketEscrow")
        price = ticket.functions.ticketPrice().call()
        self.w3.provider.make_batch_request(
            [("anvil_setBalance", [user, hex(10**21)]) for user in users]
        )
        self.send_many([(u, ticket.functions.buy(), price * tickets) for u in users])
        self.send_many([(u, ticket.functions.approve(escrow.address, tickets), 0) for u in users])
        self.send_many([(u, escrow.functions.deposit(tickets), 0) for u in users])
        if allowance:
            until = self.w3.eth.get_block("latest")["timestamp"] + 86_400
            call = escrow.functions.approveSpending(allowance, until)
            self.send_many([(u, call, 0) for u in users])

    def register_many(self, providers: list[str], model: bytes) -> None:
        """Stake the minimum and register many providers at once: all active."""
        ticket, registry = self.contract("PromptTicket"), self.contract("ProviderRegistry")
        stake = registry.functions.minStake().call()
        price = ticket.functions.ticketPrice().call()
        self.w3.provider.make_batch_request(
            [("anvil_setBalance", [p, hex(10**21)]) for p in providers]
        )
        self.send_many([(p, ticket.functions.buy(), price * stake) for p in providers])
        approve = ticket.functions.approve(registry.address, stake)
        self.send_many([(p, approve, 0) for p in providers])
        register = registry.functions.register(stake, "https://p", [model])
        self.send_many([(p, register, 0) for p in providers])

    def register(self, provider: str, model: bytes) -> int:
        ticket, registry = self.contract("PromptTicket"), self.contract("ProviderRegistry")
        stake = registry.functions.minStake().call()
        price = ticket.functions.ticketPrice().call()
        self.send(ticket.functions.buy(), provider, value=price * stake)
        self.send(ticket.functions.approve(registry.address, stake), provider)
        return self.send(registry.functions.register(stake, "https://p", [model]), provider)

    def deposit(self, user: str, tickets: int) -> int:
        ticket, escrow = self.contract("PromptTicket"), self.contract("TicketEscrow")
        price = ticket.functions.ticketPrice().call()
        self.send(ticket.functions.buy(), user, value=price * tickets)
        self.send(ticket.functions.approve(escrow.address, tickets), user)
        return self.send(escrow.functions.deposit(tickets), user)


class Command(BaseCommand):
    help = "Measure gas for the contract suite on a fresh anvil and update contracts/README.md."

    def add_arguments(self, parser):
        parser.add_argument(
            "--readme", default=str(settings.CONTRACTS_DIR / "README.md"), help="file to update"
        )

    def handle(self, *args, readme: str, **options):
        started = time.monotonic()
        try:
            compile_contracts()
        except CompilationError as exc:
            raise CommandError(f"compilation failed:\n{exc}") from exc
        # A 1,000-line settlement uses about 6.5M gas: anvil's default 30M block limit suffices.
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
                operator = Account.from_key(dev_key(0))
                deployed = deploy_contracts(w3=signing_web3(operator, node.url), account=operator)
                report = measure(Bench(node, deployed), self.stdout.write)
        finally:
            node.stop()
        write_table(Path(readme), report.markdown())
        self.stdout.write(report.markdown())
        self.stdout.write(
            self.style.SUCCESS(
                f"gas report written to {readme} in {time.monotonic() - started:.0f}s"
            )
        )


def measure(bench: Bench, log) -> GasReport:
    report = GasReport()
    accounts = bench.w3.eth.accounts
    holders, relayer, settler = accounts[1:4], accounts[9], accounts[SETTLEMENT_INDEX]
    measure_governance(bench, report, holders, relayer)
    log("governance measured")

    model = approve_model(bench, report)
    provider = accounts[7]
    report.add("ProviderRegistry.register", bench.register(provider, model), "one model")
    user_key = dev_key(5)
    user = Account.from_key(user_key).address
    report.add("TicketEscrow.deposit (first)", bench.deposit(user, 50), "approve not included")
    report.add("TicketEscrow.deposit (top-up)", bench.deposit(user, 50), "")
    measure_allowances(bench, report, user_key, relayer)
    measure_settlements(bench, report, settler, model)
    log("settlements measured")
    escrow = bench.contract("TicketEscrow")
    bench.send(
        escrow.functions.settle(
            escrow.functions.nextBatch().call(),
            Web3.keccak(text="claim-batch"),
            [(user, 40)],
            [(provider, 39)],
            1,
        ),
        settler,
    )
    report.add("TicketEscrow.claim", bench.send(escrow.functions.claim(), provider), "")

    measure_slashing(bench, report, provider, model, relayer)
    return report


def measure_allowances(bench: Bench, report: GasReport, user_key: str, relayer: str) -> None:
    escrow = bench.contract("TicketEscrow")
    user = Account.from_key(user_key).address
    valid_until = bench.w3.eth.get_block("latest")["timestamp"] + 30 * 86_400
    for note in ("first: the nonce goes 0 → 1", "replaces the previous one"):
        signature = sign_spending_allowance(
            escrow, user_key, max_tickets=1_000, valid_until=valid_until
        )
        report.add(
            "TicketEscrow.setSpendingAllowance",
            bench.send(
                escrow.functions.setSpendingAllowance(user, 1_000, valid_until, signature),
                relayer,
            ),
            f"relayed, EOA signature (ECDSA); {note}",
        )
    report.add(
        "TicketEscrow.approveSpending",
        bench.send(escrow.functions.approveSpending(1_000, valid_until), user),
        "from the user's wallet; uses the nonce too",
    )


def measure_governance(bench: Bench, report: GasReport, holders, relayer: str) -> None:
    council = bench.contract("ComputeCouncil")
    badge = bench.contract("ComputeBadge")
    timelock = bench.deployed["ComputeTimelock"].address
    newcomer = bench.w3.eth.accounts[4]

    call = badge.functions.mint(newcomer)
    targets, values = [badge.address], [0]
    calldatas = [call._encode_transaction_data()]
    description = "Welcome a new compute expert"
    description_hash = Web3.keccak(text=description)
    report.add(
        "Council.propose",
        bench.send(council.functions.propose(targets, values, calldatas, description), holders[0]),
        "one action",
    )
    proposal_id = council.functions.getProposalId(
        targets, values, calldatas, description_hash
    ).call()
    bench.node.mine(council.functions.votingDelay().call() + 1)
    report.add(
        "Council.castVote", bench.send(council.functions.castVote(proposal_id, 1), holders[0]), ""
    )

    voter = Account.from_key(dev_key(2))
    ballot = typed_data.ballot(council, proposal_id=proposal_id, support=1, voter=voter.address)
    signature = Account.sign_message(encode_typed_data(full_message=ballot), voter.key).signature
    report.add(
        "Council.castVoteBySig",
        bench.send(
            council.functions.castVoteBySig(proposal_id, 1, voter.address, signature), relayer
        ),
        "paid by the relayer; reaches quorum (late-quorum bookkeeping)",
    )
    deadline = council.functions.proposalDeadline(proposal_id).call()
    bench.node.mine(deadline - bench.w3.eth.block_number + 1)
    report.add(
        "Council.queue",
        bench.send(council.functions.queue(targets, values, calldatas, description_hash), relayer),
        "schedules in the timelock",
    )
    bench.node.rpc("evm_increaseTime", [settings.GOVERNANCE_TIMELOCK_MIN_DELAY_S + 1])
    bench.node.mine()
    report.add(
        "Council.execute (badge mint)",
        bench.send(
            council.functions.execute(targets, values, calldatas, description_hash), relayer
        ),
        "governor → timelock → ExpertBadge.mint",
    )
    report.add(
        "ExpertBadge.mint (from the timelock)",
        bench.send(badge.functions.mint(bench.w3.eth.accounts[5]), timelock),
        "mint + Locked + self-delegation checkpoints",
    )
    report.add(
        "ExpertBadge.revoke (from the timelock)",
        bench.send(badge.functions.revoke(bench.w3.eth.accounts[5]), timelock),
        "",
    )


def measure_settlements(bench: Bench, report: GasReport, settler: str, model: bytes) -> None:
    escrow = bench.contract("TicketEscrow")
    fee_bps = escrow.functions.feeBps().call()
    providers = [
        Web3.to_checksum_address(Web3.keccak(text=f"gas-provider-{i}")[-20:])
        for i in range(PROVIDERS_PER_BATCH)
    ]
    bench.register_many(providers, model)
    users_made = 0
    for size in SETTLE_SIZES:
        users = [
            Web3.to_checksum_address(Web3.keccak(text=f"gas-user-{users_made + i}")[-20:])
            for i in range(size)
        ]
        users_made += size
        # Each user keeps part of the deposit and of the allowance, as in steady use: a
        # debit that empties the slot earns a storage refund and would flatter the numbers.
        bench.deposit_many(users, 20, allowance=15)
        debits = [(user, 10) for user in users]
        total = 10 * size
        fee = total * fee_bps // 10_000
        credited = providers[: min(size, PROVIDERS_PER_BATCH)]
        share, rest = divmod(total - fee, len(credited))
        credits = [(p, share + (rest if i == 0 else 0)) for i, p in enumerate(credited)]
        first_credits = sum(escrow.functions.credits(p).call() == 0 for p in credited)
        batch = escrow.functions.nextBatch().call()
        gas = bench.send(
            escrow.functions.settle(
                batch, Web3.keccak(text=f"receipts-{batch}"), debits, credits, fee
            ),
            settler,
        )
        report.add(
            f"TicketEscrow.settle, {size:,} line{'s' if size > 1 else ''}",
            gas,
            f"{gas // size:,} per line; {len(credited)} provider{'s' if len(credited) > 1 else ''}"
            " credited"
            + (f", {first_credits} for the first time (new storage)" if first_credits else ""),
        )


def approve_model(bench: Bench, report: GasReport) -> bytes:
    registry = bench.contract("ModelRegistry")
    data_timelock = bench.deployed["DataTimelock"].address
    model_timelock = bench.deployed["ModelTimelock"].address
    dataset, model = Web3.keccak(text="gas-dataset"), Web3.keccak(text="gas-model")
    bench.send(registry.functions.approveDataset(dataset, "s3://d", "MIT"), data_timelock)
    report.add(
        "ModelRegistry.approveModelVersion",
        bench.send(
            registry.functions.approveModelVersion(
                model, "minilm", "1.0", "text-embedding", 2, dataset, Web3.keccak(text="r")
            ),
            model_timelock,
        ),
        "from the model timelock",
    )
    return model


def measure_slashing(
    bench: Bench, report: GasReport, provider: str, model: bytes, reporter: str
) -> None:
    providers = bench.contract("ProviderRegistry")
    compute_timelock = bench.deployed["ComputeTimelock"].address
    report.add(
        "ProviderRegistry.slash (council)",
        bench.send(providers.functions.slash(provider, 10, "late"), compute_timelock),
        "from the compute timelock",
    )
    cheat = Account.from_key(dev_key(8))
    bench.register(cheat.address, model)
    receipt = (
        cheat.address,
        Web3.keccak(text="rogue"),
        Web3.keccak(text="job"),
        Web3.keccak(text="req"),
        Web3.keccak(text="out"),
        2,
        1_700_000_000,
    )
    digest = providers.functions.receiptDigest(receipt).call()
    signature = cheat.unsafe_sign_hash(digest).signature
    report.add(
        "ProviderRegistry.slashWithReceipt",
        bench.send(providers.functions.slashWithReceipt(receipt, signature), reporter),
        "permissionless fraud proof; whole stake",
    )


def write_table(readme: Path, table: str) -> None:
    text = readme.read_text() if readme.exists() else ""
    block = f"{START_MARKER}\n{table}\n{END_MARKER}"
    if START_MARKER in text and END_MARKER in text:
        head, rest = text.split(START_MARKER, 1)
        _, tail = rest.split(END_MARKER, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n## Gas\n\n" + block + "\n"
    readme.write_text(text)
