from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from synod.chain.client import get_web3
from synod.chain.deployment import load_deployment


@dataclass(frozen=True)
class ChainStatus:
    reachable: bool
    expected_chain_id: int
    chain_id: int | None = None
    block_number: int | None = None
    contracts: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def chain_id_matches(self) -> bool:
        return self.chain_id == self.expected_chain_id


def chain_status() -> ChainStatus:
    expected = settings.CHAIN_ID
    try:
        w3 = get_web3()
        chain_id = w3.eth.chain_id
        block_number = w3.eth.block_number
    except Exception as exc:
        return ChainStatus(
            reachable=False,
            expected_chain_id=expected,
            error=f"no answer from {settings.CHAIN_RPC_URL}: {type(exc).__name__}",
        )
    contracts = {name: c.address for name, c in load_deployment(chain_id).items()}
    return ChainStatus(True, expected, chain_id, block_number, contracts)


def contract_address(name: str) -> str | None:
    record = load_deployment(settings.CHAIN_ID).get(name)
    return record.address if record else None
