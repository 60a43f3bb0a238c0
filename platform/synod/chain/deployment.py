"""Deploys the contract suite to the configured chain, wires its roles, and records it per
chain id.

Idempotent: a contract is reused when its recorded address still holds code, its creation
bytecode is unchanged and its constructor arguments (settings and the addresses of what it
depends on) are unchanged. Anything else is deployed afresh, and so is everything that
depends on it. A council's timelock depends on its council as well: the deployer wires the
council in once and then renounces its admin role, so a new council needs a new timelock
(and with it a new badge and everything the timelock governs).

After deployment the deployer holds nothing: each council's timelock owns what that council
governs, the escrow's operator is the settlement lane's key (SETTLEMENT_PRIVATE_KEY), and the
timelocks answer only to their councils.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from eth_account.signers.local import LocalAccount
from web3 import Web3

from synod.chain.compiler import load_artifact

COUNCILS = ("data", "model", "compute")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# eth_estimateGas is exact for the state it ran against; a Votes checkpoint written by an
# earlier transaction in the same block can make the real run cost more.
GAS_HEADROOM = 1.3


class DeploymentError(RuntimeError):
    """The suite could not be deployed or wired as planned."""


@dataclass(frozen=True)
class DeployedContract:
    name: str
    address: str
    tx_hash: str
    block_number: int
    bytecode_sha256: str
    # Hash of the constructor arguments; empty in records written before it existed.
    args_sha256: str = ""


Deployed = dict[str, DeployedContract]


@dataclass(frozen=True)
class ContractSpec:
    name: str
    constructor_args: Callable[[Deployed, LocalAccount], list]
    # Contracts whose address this one is built with or wired to: a new one of them means
    # a new one of this.
    depends_on: tuple[str, ...] = field(default=())


def council_names(council: str) -> dict[str, str]:
    """The record names of one council's contracts, e.g. DataBadge, DataTimelock, DataCouncil."""
    prefix = council.capitalize()
    return {
        "badge": f"{prefix}Badge",
        "timelock": f"{prefix}Timelock",
        "council": f"{prefix}Council",
    }


def genesis_holders(council: str) -> list[str]:
    holders = settings.GOVERNANCE_GENESIS_HOLDERS_BY_COUNCIL.get(council, [])
    if not holders:
        raise DeploymentError(
            f"no genesis badge holders for the {council} council: set "
            f"GOVERNANCE_{council.upper()}_GENESIS_HOLDERS or GOVERNANCE_GENESIS_HOLDERS"
        )
    return [Web3.to_checksum_address(holder) for holder in holders]


def treasury_address(deployed: Deployed) -> str:
    """Where fees and slashed stake go: TREASURY_ADDRESS, else the compute timelock."""
    if settings.TREASURY_ADDRESS:
        return Web3.to_checksum_address(settings.TREASURY_ADDRESS)
    return deployed["ComputeTimelock"].address


def _settlement_address(account: LocalAccount) -> str:
    # The escrow's settlements are sent by the settlement lane's key; without one (a bare
    # development setup), by the deploying account.
    from synod.chain.client import settlement_account

    try:
        return settlement_account().address
    except RuntimeError:
        return account.address


def _council_specs(council: str) -> list[ContractSpec]:
    names = council_names(council)
    return [
        ContractSpec(
            names["timelock"],
            lambda _d, account: [settings.GOVERNANCE_TIMELOCK_MIN_DELAY_S, account.address],
            depends_on=(names["council"],),
        ),
        ContractSpec(
            names["badge"],
            lambda d, _account: [d[names["timelock"]].address, genesis_holders(council)],
            depends_on=(names["timelock"],),
        ),
        ContractSpec(
            names["council"],
            lambda d, _account: [
                d[names["badge"]].address,
                d[names["timelock"]].address,
                settings.GOVERNANCE_VOTING_DELAY_BLOCKS,
                settings.GOVERNANCE_VOTING_PERIOD_BLOCKS,
                settings.GOVERNANCE_QUORUM_PERCENT,
                settings.GOVERNANCE_LATE_QUORUM_EXTENSION_BLOCKS,
            ],
            depends_on=(names["badge"], names["timelock"]),
        ),
    ]


# The order matters: a contract's constructor may take an earlier one's address.
DEPLOY_PLAN: list[ContractSpec] = [
    *(spec for council in COUNCILS for spec in _council_specs(council)),
    ContractSpec(
        "PromptTicket",
        lambda d, _account: [settings.TICKET_PRICE_WEI, d["ComputeTimelock"].address],
        depends_on=("ComputeTimelock",),
    ),
    ContractSpec(
        "ModelRegistry",
        lambda d, _account: [d["DataTimelock"].address, d["ModelTimelock"].address],
        depends_on=("DataTimelock", "ModelTimelock"),
    ),
    ContractSpec(
        "ProviderRegistry",
        lambda d, _account: [
            d["PromptTicket"].address,
            d["ModelRegistry"].address,
            d["ComputeTimelock"].address,
            treasury_address(d),
            settings.PROVIDER_MIN_STAKE_TICKETS,
            settings.PROVIDER_UNBONDING_DELAY_S,
            settings.PROVIDER_REPORTER_SHARE_BPS,
        ],
        depends_on=("PromptTicket", "ModelRegistry", "ComputeTimelock"),
    ),
    ContractSpec(
        "TicketEscrow",
        lambda d, account: [
            d["PromptTicket"].address,
            d["ProviderRegistry"].address,
            d["ComputeTimelock"].address,
            _settlement_address(account),
            treasury_address(d),
            settings.ESCROW_FEE_BPS,
            settings.ESCROW_WITHDRAWAL_DELAY_S,
        ],
        depends_on=("PromptTicket", "ProviderRegistry", "ComputeTimelock"),
    ),
]


def deployment_path(chain_id: int) -> Path:
    return settings.DEPLOYMENTS_DIR / f"{chain_id}.json"


def load_deployment(chain_id: int) -> Deployed:
    path = deployment_path(chain_id)
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {name: DeployedContract(**entry) for name, entry in data["contracts"].items()}


def deployment_complete(chain_id: int) -> bool:
    """Whether a deployment run finished: every contract deployed and every council wired."""
    path = deployment_path(chain_id)
    return path.exists() and json.loads(path.read_text()).get("complete", False)


def _save_deployment(chain_id: int, deployed: Deployed, *, complete: bool = False) -> None:
    path = deployment_path(chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "chain_id": chain_id,
        "updated_at": datetime.now(UTC).isoformat(),
        "complete": complete,
        "contracts": {name: asdict(c) for name, c in deployed.items()},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)  # atomic: readers never see a half-written file


@contextmanager
def _deployment_lock(chain_id: int) -> Iterator[None]:
    """Two deploy runs against one chain would each deploy a suite: the second waits."""
    path = deployment_path(chain_id).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _bytecode_sha256(artifact: dict) -> str:
    return hashlib.sha256(artifact["bytecode"].encode()).hexdigest()


def _args_sha256(args: list) -> str:
    return hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()


def _intrinsically_stale(
    w3: Web3, spec: ContractSpec, recorded: Deployed, account: LocalAccount
) -> bool:
    record = recorded.get(spec.name)
    if record is None or any(dep not in recorded for dep in spec.depends_on):
        return True
    if record.bytecode_sha256 != _bytecode_sha256(load_artifact(spec.name)):
        return True
    if record.args_sha256 != _args_sha256(spec.constructor_args(recorded, account)):
        return True
    return len(w3.eth.get_code(Web3.to_checksum_address(record.address))) == 0


def _stale_contracts(w3: Web3, recorded: Deployed, account: LocalAccount) -> set[str]:
    stale = {spec.name for spec in DEPLOY_PLAN if _intrinsically_stale(w3, spec, recorded, account)}
    # A fixed point, because timelock and council depend on each other.
    changed = True
    while changed:
        changed = False
        for spec in DEPLOY_PLAN:
            if spec.name not in stale and stale.intersection(spec.depends_on):
                stale.add(spec.name)
                changed = True
    return stale


def _send(w3: Web3, call, account: LocalAccount, what: str) -> dict:
    """Send a prepared constructor or function call from `account` and await its receipt."""
    gas = int(call.estimate_gas({"from": account.address}) * GAS_HEADROOM)
    tx_hash = call.transact({"from": account.address, "gas": gas})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1:
        raise DeploymentError(f"{what} reverted (tx {Web3.to_hex(tx_hash)})")
    return receipt


def _deploy_one(
    w3: Web3, spec: ContractSpec, deployed: Deployed, account: LocalAccount
) -> DeployedContract:
    artifact = load_artifact(spec.name)
    args = spec.constructor_args(deployed, account)
    contract = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = _send(w3, contract.constructor(*args), account, f"deploying {spec.name}")
    return DeployedContract(
        name=spec.name,
        address=receipt["contractAddress"],
        tx_hash=Web3.to_hex(receipt["transactionHash"]),
        block_number=receipt["blockNumber"],
        bytecode_sha256=_bytecode_sha256(artifact),
        args_sha256=_args_sha256(args),
    )


def _wire_council(
    w3: Web3,
    council: str,
    deployed: Deployed,
    account: LocalAccount,
    on_progress: Callable[[str, str], None],
) -> None:
    """Make the council the timelock's only proposer and canceller, then leave."""
    names = council_names(council)
    timelock_name = names["timelock"]
    timelock = w3.eth.contract(
        address=deployed[timelock_name].address, abi=load_artifact(timelock_name)["abi"]
    )
    council_address = deployed[names["council"]].address
    admin_role = timelock.functions.DEFAULT_ADMIN_ROLE().call()
    deployer_is_admin = timelock.functions.hasRole(admin_role, account.address).call()
    for role_name in ("PROPOSER_ROLE", "CANCELLER_ROLE"):
        role = getattr(timelock.functions, role_name)().call()
        if timelock.functions.hasRole(role, council_address).call():
            continue
        if not deployer_is_admin:
            raise DeploymentError(
                f"{timelock_name} lacks {role_name} for {names['council']} and "
                f"{account.address} is no longer its admin; redeploy the {council} council"
            )
        _send(
            w3,
            timelock.functions.grantRole(role, council_address),
            account,
            f"granting {role_name} on {timelock_name}",
        )
        on_progress(timelock_name, f"granted {role_name} to {names['council']}")
    if deployer_is_admin:
        _send(
            w3,
            timelock.functions.renounceRole(admin_role, account.address),
            account,
            f"renouncing the admin role of {timelock_name}",
        )
        on_progress(timelock_name, "deployer renounced its admin role")


def deploy_contracts(
    *,
    w3: Web3,
    account: LocalAccount,
    on_progress: Callable[[str, str], None] = lambda name, what: None,
) -> Deployed:
    chain_id = w3.eth.chain_id
    with _deployment_lock(chain_id):
        recorded = load_deployment(chain_id)
        stale = _stale_contracts(w3, recorded, account)
        deployed: Deployed = {}
        for spec in DEPLOY_PLAN:
            if spec.name not in stale:
                deployed[spec.name] = recorded[spec.name]
                on_progress(spec.name, f"reused at {recorded[spec.name].address}")
                continue
            deployed[spec.name] = _deploy_one(w3, spec, deployed, account)
            # Saved after each contract, so an interrupted run resumes instead of redeploying.
            _save_deployment(chain_id, {**recorded, **deployed})
            on_progress(spec.name, f"deployed at {deployed[spec.name].address}")
        # Wiring checks the chain before each step, so it also finishes an interrupted run.
        for council in COUNCILS:
            _wire_council(w3, council, deployed, account, on_progress)
        _save_deployment(chain_id, deployed, complete=True)
    return deployed
