"""Compiles every contract under contracts/src with py-solc-x, cached by source hash.

A native solc is used when SOLC_BINARY names one; otherwise the npm `solc` runs behind
contracts/tools/solcjs-cli.js, which speaks the same `--standard-json` protocol.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import solcx
from django.conf import settings

OPTIMIZER_RUNS = 200
EVM_VERSION = "cancun"
OUTPUT_SELECTION = {
    "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}
}


class CompilationError(Exception):
    """solc reported errors; the message lists each with its source location."""


@dataclass(frozen=True)
class CompileResult:
    build_hash: str
    contracts: list[str]
    cached: bool
    build_dir: Path


def source_files() -> list[Path]:
    return sorted((settings.CONTRACTS_DIR / "src").rglob("*.sol"))


def _compiler_version(solc_binary: str) -> str:
    out = subprocess.run([solc_binary, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def _standard_input(sources: list[Path]) -> dict:
    # Source names are relative to the repository root (the compiler's base path), and
    # library imports map into node_modules, so native solc and the shim resolve alike.
    return {
        "language": "Solidity",
        "sources": {
            str(path.relative_to(settings.REPO_DIR)): {"content": path.read_text()}
            for path in sources
        },
        "settings": {
            "remappings": ["@openzeppelin/=node_modules/@openzeppelin/"],
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "outputSelection": OUTPUT_SELECTION,
        },
    }


def _build_hash(standard_input: dict, compiler_version: str) -> str:
    lock = settings.REPO_DIR / "package-lock.json"
    digest = hashlib.sha256()
    digest.update(json.dumps(standard_input, sort_keys=True).encode())
    digest.update(compiler_version.encode())
    # Imported library sources (OpenZeppelin) are pinned by the npm lock file.
    digest.update(lock.read_bytes() if lock.exists() else b"")
    return digest.hexdigest()


def compile_contracts(*, force: bool = False) -> CompileResult:
    build_dir: Path = settings.CONTRACT_BUILD_DIR
    solc_binary = settings.SOLC_BINARY
    sources = source_files()
    if not sources:
        raise CompilationError(f"no Solidity sources under {settings.CONTRACTS_DIR / 'src'}")
    standard_input = _standard_input(sources)
    build_hash = _build_hash(standard_input, _compiler_version(solc_binary))
    stamp = build_dir / "build-info.json"
    if not force and stamp.exists():
        info = json.loads(stamp.read_text())
        if info.get("build_hash") == build_hash:
            return CompileResult(build_hash, info["contracts"], True, build_dir)

    output = _run_compiler(standard_input, solc_binary)

    build_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for source_name, contracts in output.get("contracts", {}).items():
        if not source_name.startswith("contracts/src/"):
            continue  # library contracts are compiled as dependencies, not deployed by name
        for name, compiled in contracts.items():
            bytecode = compiled["evm"]["bytecode"]["object"]
            artifact = {
                "contractName": name,
                "sourceName": source_name,
                "abi": compiled["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
                "buildHash": build_hash,
            }
            (build_dir / f"{name}.json").write_text(json.dumps(artifact, indent=1))
            names.append(name)
    stamp.write_text(json.dumps({"build_hash": build_hash, "contracts": sorted(names)}, indent=1))
    return CompileResult(build_hash, sorted(names), False, build_dir)


def _run_compiler(standard_input: dict, solc_binary: str) -> dict:
    try:
        output = solcx.compile_standard(
            standard_input,
            base_path=str(settings.REPO_DIR),
            allow_paths=[str(settings.CONTRACTS_DIR), str(settings.NODE_MODULES_DIR)],
            solc_binary=solc_binary,
        )
    except solcx.exceptions.SolcError as exc:
        raise CompilationError(str(exc)) from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilationError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    return output


def load_artifact(name: str) -> dict:
    path = settings.CONTRACT_BUILD_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no artifact for {name} in {settings.CONTRACT_BUILD_DIR}; "
            "run `python manage.py compile_contracts`"
        )
    return json.loads(path.read_text())
