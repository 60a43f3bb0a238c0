"""The ABIs of the contracts a provider talks to, shipped as package data (ABI only, no
bytecode), so a provider machine needs neither solc nor the Solidity sources.

Regenerate them after changing a contract, from the platform (which has the compiler):

    python manage.py compile_contracts --write-core-abis

tests/core/test_abi.py compiles the contracts and fails while these files differ."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

# The contracts a provider worker needs: approvals, its own registration and stake,
# settlement, and the ticket token. Their ABI files are <name>.json next to this module.
CONTRACTS: tuple[str, ...] = ("ModelRegistry", "PromptTicket", "ProviderRegistry", "TicketEscrow")


def load(name: str) -> list[dict[str, Any]]:
    """The ABI of contract `name` (one of CONTRACTS), as the compiler wrote it."""
    # Only known names: `name` never becomes a path of the caller's choosing.
    if name not in CONTRACTS:
        raise KeyError(f"no packaged ABI for {name!r}; there are {', '.join(CONTRACTS)}")
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def dumps(abi: list[dict[str, Any]]) -> str:
    """How an ABI file is written: stable, one item per line group, ending in a newline."""
    return json.dumps(abi, indent=1) + "\n"
