"""Typed access to the deployed contracts: ABI from the compiled artifact, address from the
deployment record of the configured chain.

Artifacts and deployment records are cached per process and re-read when their file changes,
so a redeploy or a recompile is picked up without a restart.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from weakref import WeakKeyDictionary

from django.conf import settings
from web3 import Web3
from web3.contract import Contract

from synod.chain.client import get_web3
from synod.chain.deployment import DeployedContract, deployment_path, load_deployment
from synod.chain.errors import ArtifactMissing, ContractNotDeployed  # raised here


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return -1


@lru_cache(maxsize=256)
def _read_artifact(path: Path, mtime_ns: int) -> dict:
    return json.loads(path.read_text())


def artifact_path(name: str) -> Path:
    return Path(settings.CONTRACT_BUILD_DIR) / f"{name}.json"


def artifact_mtime_ns(name: str) -> int:
    """Changes whenever the artifact is rewritten: a cheap cache key for derived data."""
    return _mtime_ns(artifact_path(name))


def artifact(name: str) -> dict:
    path = artifact_path(name)
    mtime = _mtime_ns(path)
    if mtime < 0:
        raise ArtifactMissing(
            f"no compiled artifact for {name} in {settings.CONTRACT_BUILD_DIR}; "
            "run `python manage.py compile_contracts`"
        )
    return _read_artifact(path, mtime)


def abi(name: str) -> list[dict]:
    return artifact(name)["abi"]


def artifact_names() -> list[str]:
    """Every compiled contract (the error decoder learns custom errors from all of them)."""
    build_dir = Path(settings.CONTRACT_BUILD_DIR)
    if not build_dir.is_dir():
        return []
    return sorted(p.stem for p in build_dir.glob("*.json") if p.name != "build-info.json")


@lru_cache(maxsize=32)
def _read_deployment(chain_id: int, path: Path, mtime_ns: int) -> dict[str, DeployedContract]:
    return load_deployment(chain_id)


def deployed_contracts(chain_id: int | None = None) -> dict[str, DeployedContract]:
    """name -> record of every contract deployed on `chain_id` (default: settings.CHAIN_ID)."""
    chain_id = settings.CHAIN_ID if chain_id is None else chain_id
    path = deployment_path(chain_id)
    return dict(_read_deployment(chain_id, path, _mtime_ns(path)))


def deployed(name: str, *, chain_id: int | None = None) -> DeployedContract:
    chain_id = settings.CHAIN_ID if chain_id is None else chain_id
    record = deployed_contracts(chain_id).get(name)
    if record is None:
        raise ContractNotDeployed(
            f"{name} is not deployed on chain {chain_id} (no entry in "
            f"{deployment_path(chain_id)}); run `python manage.py deploy_contracts`"
        )
    return record


@lru_cache(maxsize=256)
def _bytecode_sha256(name: str, mtime_ns: int) -> str:
    # The same digest the deployment record keeps (deployment.py), to tell artifacts apart.
    return hashlib.sha256(artifact(name)["bytecode"].encode()).hexdigest()


def artifact_name(name: str, *, chain_id: int | None = None) -> str:
    """The artifact behind a deployed contract. A deployment may name several instances of
    one contract differently (one Council per council); those are matched by bytecode."""
    if artifact_mtime_ns(name) >= 0:
        return name
    record = deployed_contracts(chain_id).get(name)
    if record is not None:
        for candidate in artifact_names():
            if _bytecode_sha256(candidate, artifact_mtime_ns(candidate)) == record.bytecode_sha256:
                return candidate
    raise ArtifactMissing(
        f"no compiled artifact for {name} in {settings.CONTRACT_BUILD_DIR}; "
        "run `python manage.py compile_contracts`"
    )


def contract(name: str, *, w3: Web3 | None = None, chain_id: int | None = None) -> Contract:
    """The deployed contract `name` as a web3 Contract bound to the platform's client."""
    record = deployed(name, chain_id=chain_id)
    return contract_at(artifact_name(name, chain_id=chain_id), record.address, w3=w3)


# Building a Contract parses the whole ABI (a Governor's is large): one per client,
# contract and artifact version, dropped with the client.
_contracts: WeakKeyDictionary[Web3, dict[tuple[str, str, int], Contract]] = WeakKeyDictionary()


def contract_at(name: str, address: str, *, w3: Web3 | None = None) -> Contract:
    """Contract `name`'s ABI at any address (e.g. a contract created by another contract)."""
    w3 = w3 or get_web3()
    address = Web3.to_checksum_address(address)
    key = (name, address, artifact_mtime_ns(name))
    per_client = _contracts.setdefault(w3, {})
    if key not in per_client:
        per_client[key] = w3.eth.contract(address=address, abi=abi(name))
    return per_client[key]


def encode_call(name: str, function: str, args: list | tuple = ()) -> str:
    """Calldata for `function(*args)` of contract `name` (for the transaction sender)."""
    contract_abi = abi(artifact_name(name))
    return get_web3().eth.contract(abi=contract_abi).encode_abi(function, args=list(args))
