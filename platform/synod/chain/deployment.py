"""Deploys the contract suite to the configured chain and records it per chain id.

Idempotent: a contract whose recorded address still holds code and whose creation
bytecode is unchanged is reused; anything else is deployed afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from eth_account.signers.local import LocalAccount
from web3 import Web3

from synod.chain.compiler import load_artifact

DEFAULT_TICKET_PRICE_WEI = Web3.to_wei(0.001, "ether")


@dataclass(frozen=True)
class DeployedContract:
    name: str
    address: str
    tx_hash: str
    block_number: int
    bytecode_sha256: str


@dataclass(frozen=True)
class ContractSpec:
    name: str
    constructor_args: Callable[[dict[str, DeployedContract], LocalAccount], list]


# The order matters: a later contract may take an earlier one's address.
DEPLOY_PLAN: list[ContractSpec] = [
    ContractSpec(
        "PromptTicket", lambda _deployed, account: [DEFAULT_TICKET_PRICE_WEI, account.address]
    ),
]


def deployment_path(chain_id: int) -> Path:
    return settings.DEPLOYMENTS_DIR / f"{chain_id}.json"


def load_deployment(chain_id: int) -> dict[str, DeployedContract]:
    path = deployment_path(chain_id)
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {name: DeployedContract(**entry) for name, entry in data["contracts"].items()}


def _save_deployment(chain_id: int, deployed: dict[str, DeployedContract]) -> None:
    path = deployment_path(chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "chain_id": chain_id,
        "updated_at": datetime.now(UTC).isoformat(),
        "contracts": {name: asdict(c) for name, c in deployed.items()},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)  # atomic: readers never see a half-written file


def _bytecode_sha256(artifact: dict) -> str:
    return hashlib.sha256(artifact["bytecode"].encode()).hexdigest()


def _still_deployed(w3: Web3, record: DeployedContract, artifact: dict) -> bool:
    return (
        record.bytecode_sha256 == _bytecode_sha256(artifact)
        and len(w3.eth.get_code(Web3.to_checksum_address(record.address))) > 0
    )


def deploy_contracts(
    *,
    w3: Web3,
    account: LocalAccount,
    on_progress: Callable[[str, str], None] = lambda name, what: None,
) -> dict[str, DeployedContract]:
    chain_id = w3.eth.chain_id
    recorded = load_deployment(chain_id)
    deployed: dict[str, DeployedContract] = {}
    for spec in DEPLOY_PLAN:
        artifact = load_artifact(spec.name)
        record = recorded.get(spec.name)
        if record and _still_deployed(w3, record, artifact):
            deployed[spec.name] = record
            on_progress(spec.name, f"reused at {record.address}")
            continue
        contract = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx_hash = contract.constructor(*spec.constructor_args(deployed, account)).transact(
            {"from": account.address}
        )
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise RuntimeError(f"deploying {spec.name} reverted (tx {tx_hash.hex()})")
        deployed[spec.name] = DeployedContract(
            name=spec.name,
            address=receipt["contractAddress"],
            tx_hash="0x" + bytes(tx_hash).hex().removeprefix("0x"),
            block_number=receipt["blockNumber"],
            bytecode_sha256=_bytecode_sha256(artifact),
        )
        # Saved after each contract, so an interrupted run resumes instead of redeploying.
        _save_deployment(chain_id, {**recorded, **deployed})
        on_progress(spec.name, f"deployed at {receipt['contractAddress']}")
    _save_deployment(chain_id, deployed)
    return deployed
