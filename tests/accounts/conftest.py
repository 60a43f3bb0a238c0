from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from synod.chain.compiler import compile_contracts


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the shared cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dead_chain(settings, tmp_path):
    """A recorded deployment whose node does not answer (the discard port)."""
    compile_contracts()
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"
    settings.DEPLOYMENTS_DIR = tmp_path
    record = {
        "name": "PromptTicket",
        "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "tx_hash": "0x" + "00" * 32,
        "block_number": 1,
        "bytecode_sha256": "0" * 64,
    }
    (tmp_path / f"{settings.CHAIN_ID}.json").write_text(
        json.dumps({"chain_id": settings.CHAIN_ID, "contracts": {"PromptTicket": record}})
    )
    return settings
