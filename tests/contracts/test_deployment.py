"""The deployment: dependency order, wiring, idempotence per chain id, nothing left to the
deployer."""

import pytest
from web3 import Web3

from synod.chain.client import operator_account, signing_web3
from synod.chain.deployment import (
    DEPLOY_PLAN,
    DeploymentError,
    deploy_contracts,
    load_deployment,
    treasury_address,
)

pytestmark = pytest.mark.chain


@pytest.fixture
def fresh_record(settings, tmp_path):
    """A deployment record of this test's own, so the session's record stays intact."""
    settings.DEPLOYMENTS_DIR = tmp_path
    return settings


def deploy(chain, on_progress=lambda name, what: None):
    account = operator_account()
    return deploy_contracts(
        w3=signing_web3(account, chain.url), account=account, on_progress=on_progress
    )


def test_every_planned_contract_is_deployed_and_owned_by_governance(suite, deployed):
    assert set(deployed) == {spec.name for spec in DEPLOY_PLAN}
    compute = suite.timelock("compute").address
    assert suite["PromptTicket"].functions.owner().call() == compute
    assert suite["TicketEscrow"].functions.owner().call() == compute
    assert suite["ProviderRegistry"].functions.owner().call() == compute
    # The escrow settles from the settlement lane's key, not the operator key.
    assert suite["TicketEscrow"].functions.operator().call() == suite.settler != suite.operator
    assert (
        suite["TicketEscrow"].functions.providerRegistry().call()
        == suite["ProviderRegistry"].address
    )
    assert treasury_address(deployed) == compute
    registry = suite["ModelRegistry"].functions
    assert registry.hasRole(
        registry.DATA_STEWARD_ROLE().call(), suite.timelock("data").address
    ).call()
    assert registry.hasRole(
        registry.MODEL_STEWARD_ROLE().call(), suite.timelock("model").address
    ).call()


def test_a_rerun_deploys_nothing(chain, fresh_record):
    first = deploy(chain)
    block = chain.w3.eth.block_number
    progress = []
    again = deploy(chain, lambda name, what: progress.append(what))
    assert again == first
    assert chain.w3.eth.block_number == block  # not one transaction
    assert all(what.startswith("reused") for what in progress)
    assert load_deployment(chain.w3.eth.chain_id) == first


def test_a_changed_parameter_redeploys_what_depends_on_it(chain, fresh_record):
    first = deploy(chain)
    fresh_record.ESCROW_FEE_BPS = 100
    second = deploy(chain)
    assert second["TicketEscrow"].address != first["TicketEscrow"].address
    unchanged = set(first) - {"TicketEscrow"}
    assert all(second[name] == first[name] for name in unchanged)

    # The escrow asks the provider registry who is active: a new registry, a new escrow.
    fresh_record.PROVIDER_MIN_STAKE_TICKETS = 50
    renewed = deploy(chain)
    assert renewed["ProviderRegistry"].address != second["ProviderRegistry"].address
    assert renewed["TicketEscrow"].address != second["TicketEscrow"].address
    unchanged = set(second) - {"ProviderRegistry", "TicketEscrow"}
    assert all(renewed[name] == second[name] for name in unchanged)
    second = renewed

    # A new compute badge means a new council, which needs a new timelock (the deployer
    # left the old one), hence everything that timelock governs.
    holders = fresh_record.GOVERNANCE_GENESIS_HOLDERS_BY_COUNCIL
    newcomer = chain.w3.eth.accounts[4]
    fresh_record.GOVERNANCE_GENESIS_HOLDERS_BY_COUNCIL = {
        **holders,
        "compute": [*holders["compute"], newcomer],
    }
    third = deploy(chain)
    for name in (
        "ComputeCouncil",
        "ComputeTimelock",
        "ComputeBadge",
        "PromptTicket",
        "TicketEscrow",
        "ProviderRegistry",
    ):
        assert third[name].address != second[name].address, name
    for name in ("DataCouncil", "ModelCouncil", "DataBadge", "ModelTimelock", "ModelRegistry"):
        assert third[name] == second[name], name
    badge = chain.w3.eth.contract(
        address=third["ComputeBadge"].address,
        abi=[
            {
                "name": "getVotes",
                "type": "function",
                "stateMutability": "view",
                "inputs": [{"type": "address", "name": "account"}],
                "outputs": [{"type": "uint256", "name": ""}],
            }
        ],
    )
    assert badge.functions.getVotes(newcomer).call() == 1


def test_a_council_without_genesis_holders_is_refused(chain, fresh_record):
    fresh_record.GOVERNANCE_GENESIS_HOLDERS_BY_COUNCIL = {
        **fresh_record.GOVERNANCE_GENESIS_HOLDERS_BY_COUNCIL,
        "model": [],
    }
    with pytest.raises(DeploymentError, match="model council"):
        deploy(chain)


def test_an_explicit_treasury_receives_fees(chain, fresh_record):
    fresh_record.TREASURY_ADDRESS = Web3.to_checksum_address("0x" + "ab" * 20)
    contracts = deploy(chain)
    assert treasury_address(contracts) == fresh_record.TREASURY_ADDRESS
