"""ProviderRegistry: staking, registration, unbonding, council slashing, and the
permissionless fraud proof with a receipt signed in Python."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from synod_core.receipts import Receipt, ReceiptDomain, sign_receipt, typed_receipt
from tests.support.suite import DEV_KEYS, MODEL, ROGUE_MODEL

pytestmark = pytest.mark.chain

PROVIDER_INDEX = 7


def provider_key() -> str:
    return DEV_KEYS[PROVIDER_INDEX]


def stake_and_register(suite, provider: str, stake: int, models: list[bytes]):
    registry = suite["ProviderRegistry"]
    suite.buy_tickets(provider, stake)
    suite.approve(provider, registry.address, stake)
    return suite.send(registry.functions.register(stake, "https://p.example", models), provider)


def receipt_for(provider: str, model: bytes, job: str = "job-1") -> Receipt:
    return Receipt(
        provider=provider,
        model_hash=model,
        job_id=keccak(text=job),
        request_hash=keccak(text="request"),
        output_hash=keccak(text="output"),
        tickets_charged=2,
        served_at=1_700_000_000,
    )


def test_register_update_and_views(suite, approved_model):
    registry = suite["ProviderRegistry"]
    f = registry.functions
    provider = suite.accounts[PROVIDER_INDEX]
    min_stake = f.minStake().call()
    receipt = stake_and_register(suite, provider, min_stake, [approved_model])
    (event,) = registry.events.ProviderRegistered().process_receipt(receipt)
    assert (event.args.provider, event.args.stake) == (provider, min_stake)
    record = f.getProvider(provider).call()
    assert record[0] is True and record[1] == min_stake and record[3] == [MODEL]
    assert f.isActive(provider).call()
    assert f.servesModel(provider, MODEL).call()
    assert not f.servesModel(provider, ROGUE_MODEL).call()

    suite.send(f.updateMetadata("https://new.example"), provider)
    assert f.getProvider(provider).call()[2] == "https://new.example"
    args = suite.reverts(
        f.updateModels([ROGUE_MODEL]), provider, "ProviderRegistryModelNotApproved"
    )
    assert args == (ROGUE_MODEL,)
    suite.reverts(f.updateModels([]), provider, "ProviderRegistryNoModels")
    suite.send(f.updateModels([MODEL]), provider)
    suite.buy_tickets(provider, 5)
    suite.approve(provider, registry.address, 5)
    suite.send(f.addStake(5), provider)
    assert f.getProvider(provider).call()[1] == min_stake + 5
    suite.reverts(f.addStake(0), provider, "ProviderRegistryZeroAmount")


def test_register_reverts(suite, approved_model):
    f = suite["ProviderRegistry"].functions
    provider = suite.accounts[PROVIDER_INDEX]
    min_stake = f.minStake().call()
    suite.buy_tickets(provider, min_stake)
    suite.approve(provider, suite["ProviderRegistry"].address, min_stake)
    assert suite.reverts(
        f.register(min_stake - 1, "u", [MODEL]), provider, "ProviderRegistryStakeTooLow"
    ) == (min_stake - 1, min_stake)
    suite.reverts(
        f.register(min_stake, "u", [ROGUE_MODEL]), provider, "ProviderRegistryModelNotApproved"
    )
    suite.reverts(f.register(min_stake, "u", []), provider, "ProviderRegistryNoModels")
    suite.send(f.register(min_stake, "u", [MODEL]), provider)
    suite.reverts(
        f.register(min_stake, "u", [MODEL]), provider, "ProviderRegistryAlreadyRegistered"
    )
    stranger = suite.accounts[8]
    for call in (
        f.updateModels([MODEL]),
        f.updateMetadata("u"),
        f.addStake(1),
        f.requestUnbond(1),
        f.withdrawStake(),
    ):
        suite.reverts(call, stranger, "ProviderRegistryNotRegistered")


def test_unbonding_waits_and_leaves_when_empty(suite, approved_model):
    registry, ticket = suite["ProviderRegistry"], suite["PromptTicket"]
    f = registry.functions
    provider = suite.accounts[PROVIDER_INDEX]
    min_stake = f.minStake().call()
    stake_and_register(suite, provider, min_stake + 10, [MODEL])
    suite.reverts(f.withdrawStake(), provider, "ProviderRegistryNoUnbondRequested")
    suite.reverts(f.requestUnbond(0), provider, "ProviderRegistryZeroAmount")
    suite.reverts(f.requestUnbond(min_stake + 11), provider, "ProviderRegistryInsufficientStake")
    suite.send(f.requestUnbond(10), provider)
    assert f.isActive(provider).call()  # what stays is still the minimum
    suite.reverts(f.withdrawStake(), provider, "ProviderRegistryUnbondingNotReady")
    suite.increase_time(f.unbondingDelay().call())
    suite.send(f.withdrawStake(), provider)
    assert ticket.functions.balanceOf(provider).call() == 10
    suite.send(f.requestUnbond(min_stake), provider)
    assert not f.isActive(provider).call()
    suite.increase_time(f.unbondingDelay().call())
    receipt = suite.send(f.withdrawStake(), provider)
    assert registry.events.ProviderDeregistered().process_receipt(receipt)
    assert f.getProvider(provider).call()[0] is False
    assert ticket.functions.balanceOf(provider).call() == min_stake + 10


def test_council_slashes_to_the_treasury(suite, approved_model):
    registry, ticket = suite["ProviderRegistry"], suite["PromptTicket"]
    f = registry.functions
    provider = suite.accounts[PROVIDER_INDEX]
    min_stake = f.minStake().call()
    stake_and_register(suite, provider, min_stake, [MODEL])
    treasury = f.treasury().call()
    suite.reverts(f.slash(provider, 1, "no"), suite.operator, "OwnableUnauthorizedAccount")
    receipt = suite.as_timelock("compute", f.slash(provider, 30, "served late"))
    (event,) = registry.events.Slashed().process_receipt(receipt)
    assert (event.args.amount, event.args.reason) == (30, "served late")
    assert ticket.functions.balanceOf(treasury).call() == 30
    assert not f.isActive(provider).call()  # below the minimum now
    # Capped at what is left.
    suite.as_timelock("compute", f.slash(provider, 10**9, "again"))
    assert f.getProvider(provider).call()[1] == 0
    timelock = suite.timelock("compute").address
    suite.reverts(f.slash(provider, 1, "x"), timelock, "ProviderRegistryNothingToSlash")
    suite.reverts(f.slash(provider, 0, "x"), timelock, "ProviderRegistryZeroAmount")


def test_receipt_digest_matches_python_signing(suite, receipt_domain: ReceiptDomain):
    registry = suite["ProviderRegistry"]
    receipt = receipt_for(suite.accounts[PROVIDER_INDEX], ROGUE_MODEL)
    encoded = encode_typed_data(full_message=typed_receipt(receipt, receipt_domain))
    expected = keccak(b"\x19\x01" + encoded.header + encoded.body)
    assert registry.functions.receiptDigest(receipt.as_tuple()).call() == expected


def test_fraud_proof_slashes_the_whole_stake_once(suite, approved_model, receipt_domain):
    registry, ticket = suite["ProviderRegistry"], suite["PromptTicket"]
    f = registry.functions
    provider = suite.accounts[PROVIDER_INDEX]
    stake = f.minStake().call() + 50
    stake_and_register(suite, provider, stake, [MODEL])
    reporter = suite.accounts[9]
    receipt = receipt_for(provider, ROGUE_MODEL)
    signature = sign_receipt(receipt, provider_key(), receipt_domain)
    share_bps = f.reporterShareBps().call()
    treasury = f.treasury().call()
    before = ticket.functions.balanceOf(reporter).call()

    tx = suite.send(f.slashWithReceipt(receipt.as_tuple(), signature), reporter)
    (event,) = registry.events.SlashedByReceipt().process_receipt(tx)
    reward = stake * share_bps // 10_000
    assert (event.args.amount, event.args.reporterReward) == (stake, reward)
    assert ticket.functions.balanceOf(reporter).call() - before == reward
    assert ticket.functions.balanceOf(treasury).call() == stake - reward
    assert f.banned(provider).call()
    assert f.getProvider(provider).call()[0] is False
    digest = f.receiptDigest(receipt.as_tuple()).call()
    assert f.receiptUsed(digest).call()
    assert suite.reverts(
        f.slashWithReceipt(receipt.as_tuple(), signature),
        reporter,
        "ProviderRegistryReceiptAlreadyUsed",
    ) == (digest,)
    # Banned for good.
    suite.buy_tickets(provider, stake)
    suite.approve(provider, registry.address, stake)
    suite.reverts(f.register(stake, "u", [MODEL]), provider, "ProviderRegistryBanned")


def test_fraud_proof_is_refused_for_approved_models_and_foreign_signatures(
    suite, approved_model, receipt_domain
):
    registry = suite["ProviderRegistry"]
    f = registry.functions
    provider = suite.accounts[PROVIDER_INDEX]
    stake_and_register(suite, provider, f.minStake().call(), [MODEL])
    reporter = suite.accounts[9]

    honest = receipt_for(provider, MODEL)
    signature = sign_receipt(honest, provider_key(), receipt_domain)
    assert suite.reverts(
        f.slashWithReceipt(honest.as_tuple(), signature),
        reporter,
        "ProviderRegistryModelWasApproved",
    ) == (MODEL,)
    # Revoked since: it was approved once, so still no fraud.
    suite.as_timelock("model", suite["ModelRegistry"].functions.revokeModelVersion(MODEL))
    suite.reverts(
        f.slashWithReceipt(honest.as_tuple(), signature),
        reporter,
        "ProviderRegistryModelWasApproved",
    )
    rogue = receipt_for(provider, ROGUE_MODEL)
    forged = sign_receipt(rogue, DEV_KEYS[8], receipt_domain)
    args = suite.reverts(
        f.slashWithReceipt(rogue.as_tuple(), forged),
        reporter,
        "ProviderRegistryInvalidReceiptSignature",
    )
    assert args == (provider, Account.from_key(DEV_KEYS[8]).address)
    # A signer with no stake has nothing to lose.
    nobody = receipt_for(suite.accounts[8], ROGUE_MODEL)
    suite.reverts(
        f.slashWithReceipt(nobody.as_tuple(), sign_receipt(nobody, DEV_KEYS[8], receipt_domain)),
        reporter,
        "ProviderRegistryNothingToSlash",
    )


def test_governance_parameters(suite):
    f = suite["ProviderRegistry"].functions
    timelock = suite.timelock("compute").address
    for call in (
        f.setMinStake(1),
        f.setUnbondingDelay(120),
        f.setReporterShareBps(1),
        f.setTreasury(suite.accounts[6]),
    ):
        suite.reverts(call, suite.operator, "OwnableUnauthorizedAccount")
    suite.as_timelock("compute", f.setMinStake(7))
    assert f.minStake().call() == 7
    suite.reverts(f.setMinStake(0), timelock, "ProviderRegistryZeroAmount")
    suite.as_timelock("compute", f.setUnbondingDelay(120))
    suite.reverts(f.setUnbondingDelay(1), timelock, "ProviderRegistryDelayOutOfBounds")
    suite.as_timelock("compute", f.setReporterShareBps(5_000))
    suite.reverts(f.setReporterShareBps(5_001), timelock, "ProviderRegistryShareTooHigh")
    suite.as_timelock("compute", f.setTreasury(suite.accounts[6]))
    assert f.treasury().call() == suite.accounts[6]
    suite.reverts(f.setTreasury("0x" + "00" * 20), timelock, "ProviderRegistryZeroAddress")
