from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from synod.chain.compiler import compile_contracts
from synod.common import throttles

# 20 s into a one-minute window: every request of a test falls in the same window.
FROZEN_NOW = 60 * 28_000_000 + 20.0


@pytest.fixture
def frozen_rate_window(monkeypatch) -> float:
    """Pins the rate limiter's clock, so a test never straddles two fixed windows."""
    monkeypatch.setattr(throttles, "time", SimpleNamespace(time=lambda: FROZEN_NOW))
    return FROZEN_NOW


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
