"""The ABIs synod_core ships are the compiled contracts' ABIs."""

from __future__ import annotations

from importlib import resources

import pytest

import synod_core.abi
from synod.chain.compiler import compile_contracts, load_artifact

REGENERATE = "python manage.py compile_contracts --write-core-abis"


def test_the_packaged_abis_are_the_compiled_ones() -> None:
    # Cached by source hash: compiles only when a contract changed since the last build.
    compile_contracts()
    stale = [
        name
        for name in synod_core.abi.CONTRACTS
        if synod_core.abi.load(name) != load_artifact(name)["abi"]
    ]
    assert not stale, f"synod_core's ABIs of {stale} are out of date; run `{REGENERATE}`"


def test_every_packaged_file_is_a_listed_contract() -> None:
    files = {
        entry.name.removesuffix(".json")
        for entry in resources.files(synod_core.abi).iterdir()
        if entry.name.endswith(".json")
    }
    assert files == set(synod_core.abi.CONTRACTS)


def functions(name: str) -> set[str]:
    return {entry["name"] for entry in synod_core.abi.load(name) if entry["type"] == "function"}


def test_the_abis_hold_what_a_provider_calls() -> None:
    assert {"register", "receiptDigest", "eip712Domain", "servesModel"} <= functions(
        "ProviderRegistry"
    )
    assert {"isModelApproved", "getModelVersion"} <= functions("ModelRegistry")
    assert {"claim", "credits"} <= functions("TicketEscrow")
    assert {"balanceOf", "approve"} <= functions("PromptTicket")


def test_only_listed_contracts_can_be_loaded() -> None:
    for name in ("Council", "../abi/ModelRegistry", "ModelRegistry.json", ""):
        with pytest.raises(KeyError, match="no packaged ABI"):
            synod_core.abi.load(name)
