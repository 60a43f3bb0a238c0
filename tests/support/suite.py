"""Helpers for tests that drive the deployed contract suite on the real anvil node: the
contracts as web3 objects, custom errors decoded by the platform's own decoder, acting as a
council's timelock, and carrying a proposal through its whole life cycle."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from synod.chain.client import settlement_account
from synod.chain.compiler import load_artifact
from synod.chain.deployment import DeployedContract, council_names
from synod.chain.devnode import ANVIL_DEV_KEYS, DevNode
from synod.chain.errors import as_contract_revert
from synod.chain.management.commands.gas_report import sign_spending_allowance

# anvil's published dev keys, by account index: 0 operator, 1-3 genesis badge holders,
# 9 the settlement key (TicketEscrow's operator).
DEV_KEYS = ANVIL_DEV_KEYS

FOR, AGAINST, ABSTAIN = 1, 0, 2
# IGovernor.ProposalState
PENDING, ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXPIRED, EXECUTED = range(8)

DATASET = keccak(text="dataset.parquet")
MODEL = keccak(text="model.onnx")
ROGUE_MODEL = keccak(text="never-approved.onnx")


class RevertedWithOther(AssertionError):
    pass


def decode_revert(exc: Exception) -> tuple[str, tuple]:
    """(error name, arguments in ABI order) of a custom-error revert."""
    revert = as_contract_revert(exc)
    if revert is None or revert.name in ("Error", "Panic", None):
        raise RevertedWithOther(f"reverted without a custom error: {exc!r}")
    return revert.name, tuple(revert.arguments.values())


@dataclass
class Suite:
    node: DevNode
    w3: Web3
    records: dict[str, DeployedContract]

    # --- contracts and accounts ---------------------------------------------------------

    def contract(self, name: str) -> Contract:
        return self.w3.eth.contract(
            address=self.records[name].address, abi=load_artifact(name)["abi"]
        )

    def __getitem__(self, name: str) -> Contract:
        return self.contract(name)

    @property
    def accounts(self) -> list[str]:
        return self.w3.eth.accounts

    @property
    def operator(self) -> str:
        return self.accounts[0]

    @property
    def settler(self) -> str:
        """TicketEscrow's operator: the settlement lane's key."""
        return settlement_account().address

    @property
    def holders(self) -> list[str]:
        return self.accounts[1:4]

    def timelock(self, council: str) -> Contract:
        return self.contract(council_names(council)["timelock"])

    def council(self, council: str) -> Contract:
        return self.contract(council_names(council)["council"])

    def badge(self, council: str) -> Contract:
        return self.contract(council_names(council)["badge"])

    # --- transactions -------------------------------------------------------------------

    @contextmanager
    def sending_as(self, address: str) -> Iterator[None]:
        """Let transactions come from any address (a timelock, a contract): anvil
        impersonation, for addresses that are not the node's own dev accounts."""
        if address in self.accounts:
            yield
            return
        self.node.rpc("anvil_setBalance", [address, hex(10**20)])
        self.node.rpc("anvil_impersonateAccount", [address])
        try:
            yield
        finally:
            self.node.rpc("anvil_stopImpersonatingAccount", [address])

    def send(self, call, sender: str, *, value: int = 0) -> dict:
        with self.sending_as(sender):
            tx_hash = call.transact({"from": sender, "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, receipt
        return receipt

    def reverts(self, call, sender: str, error: str, *, value: int = 0) -> tuple:
        """Assert the call reverts with custom error `error`; return the error's arguments.
        Nothing is mined: web3 estimates gas first, and the estimate carries the revert."""
        try:
            with self.sending_as(sender):
                call.transact({"from": sender, "value": value})
        except (ContractLogicError, ContractCustomError) as exc:
            name, args = decode_revert(exc)
            assert name == error, f"expected {error}, got {name}{args}"
            return args
        raise AssertionError(f"expected {error}, but the call succeeded")

    def as_timelock(self, council: str, call) -> dict:
        return self.send(call, self.timelock(council).address)

    def increase_time(self, seconds: int) -> None:
        self.node.rpc("evm_increaseTime", [seconds])
        self.node.mine()

    def buy_tickets(self, buyer: str, tickets: int) -> None:
        ticket = self["PromptTicket"]
        price = ticket.functions.ticketPrice().call()
        self.send(ticket.functions.buy(), buyer, value=price * tickets)

    def approve(self, owner: str, spender: str, amount: int) -> None:
        self.send(self["PromptTicket"].functions.approve(spender, amount), owner)

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    # --- escrow and providers -----------------------------------------------------------

    def deposit(self, user: str, tickets: int) -> None:
        """Buy `tickets` and deposit them in TicketEscrow."""
        escrow = self["TicketEscrow"]
        self.buy_tickets(user, tickets)
        self.approve(user, escrow.address, tickets)
        self.send(escrow.functions.deposit(tickets), user)

    def allow_spending(self, user: str, max_tickets: int, seconds: int = 86_400) -> dict:
        """The user's own `approveSpending` for `seconds` from now."""
        call = self["TicketEscrow"].functions.approveSpending(max_tickets, self.now() + seconds)
        return self.send(call, user)

    def allowance_signature(
        self, key: str, max_tickets: int, valid_until: int, nonce: int | None = None
    ) -> bytes:
        """A wallet's EIP-712 SpendingAllowance signature (nonce: the current one)."""
        return sign_spending_allowance(
            self["TicketEscrow"], key, max_tickets=max_tickets, valid_until=valid_until, nonce=nonce
        )

    def register_provider(self, provider: str, models: Sequence[bytes]) -> None:
        """Stake the minimum and register (the models must be approved): an active provider."""
        registry = self["ProviderRegistry"]
        stake = registry.functions.minStake().call()
        self.buy_tickets(provider, stake)
        self.approve(provider, registry.address, stake)
        self.send(registry.functions.register(stake, "https://p.example", list(models)), provider)

    # --- governance ---------------------------------------------------------------------

    def propose(self, council: str, calls: Sequence, description: str, proposer: str) -> int:
        governor = self.council(council)
        targets = [call.address for call in calls]
        calldatas = [call._encode_transaction_data() for call in calls]
        values = [0] * len(calls)
        self.send(governor.functions.propose(targets, values, calldatas, description), proposer)
        return governor.functions.getProposalId(
            targets, values, calldatas, Web3.keccak(text=description)
        ).call()

    def pass_proposal(
        self, council: str, calls: Sequence, description: str, voters: Sequence[str] = ()
    ) -> dict[str, dict]:
        """Propose, vote, queue and execute; returns each step's receipt."""
        governor = self.council(council)
        voters = list(voters) or self.holders[:2]
        targets = [call.address for call in calls]
        calldatas = [call._encode_transaction_data() for call in calls]
        values = [0] * len(calls)
        description_hash = Web3.keccak(text=description)
        receipts = {
            "propose": self.send(
                governor.functions.propose(targets, values, calldatas, description), voters[0]
            )
        }
        proposal_id = governor.functions.getProposalId(
            targets, values, calldatas, description_hash
        ).call()
        self.node.mine(governor.functions.votingDelay().call() + 1)
        for i, voter in enumerate(voters):
            receipts[f"vote{i}"] = self.send(governor.functions.castVote(proposal_id, FOR), voter)
        self.mine_past_deadline(governor, proposal_id)
        assert governor.functions.state(proposal_id).call() == SUCCEEDED
        receipts["queue"] = self.send(
            governor.functions.queue(targets, values, calldatas, description_hash), voters[0]
        )
        self.increase_time(self.timelock(council).functions.getMinDelay().call() + 1)
        receipts["execute"] = self.send(
            governor.functions.execute(targets, values, calldatas, description_hash),
            self.accounts[9],  # anyone may execute
        )
        assert governor.functions.state(proposal_id).call() == EXECUTED
        receipts["proposal_id"] = proposal_id
        return receipts

    def mine_past_deadline(self, governor: Contract, proposal_id: int) -> None:
        deadline = governor.functions.proposalDeadline(proposal_id).call()
        remaining = deadline - self.w3.eth.block_number + 1
        if remaining > 0:
            self.node.mine(remaining)
