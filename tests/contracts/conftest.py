"""Fixtures for the contract suite; the helpers live in tests/support/suite.py."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from synod_core.receipts import ReceiptDomain
from tests.support.suite import DATASET, MODEL, Suite


@pytest.fixture
def approved_model(suite: Suite) -> bytes:
    """A dataset and a model version approved (straight from the timelocks, no vote)."""
    registry = suite["ModelRegistry"].functions
    suite.as_timelock("data", registry.approveDataset(DATASET, "s3://d", "CC-BY-4.0"))
    suite.as_timelock(
        "model",
        registry.approveModelVersion(
            MODEL, "minilm", "1.0", "text-embedding", 2, DATASET, keccak(text="eval")
        ),
    )
    return MODEL


@pytest.fixture
def receipt_domain(suite: Suite) -> ReceiptDomain:
    """The deployed ProviderRegistry's EIP-712 domain, as it reports it (ERC-5267)."""
    return ReceiptDomain.from_eip5267(suite["ProviderRegistry"].functions.eip712Domain().call())
