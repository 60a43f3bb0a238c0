"""A badge holder, in a real browser, proposes a dataset approval, votes gasless, and after
the voting period queues and executes it; the dataset then shows as approved."""

from __future__ import annotations

import re

import pytest
from eth_account import Account
from eth_utils import keccak
from playwright.sync_api import expect

from synod.chain import bindings
from synod.chain.devnode import ANVIL_DEV_KEYS
from synod.governance.models import Proposal
from tests.e2e.test_browser_sign_in import watch_for_page_errors
from tests.e2e.wallet import ChainWallet
from tests.governance.conftest import sync

pytestmark = [pytest.mark.browser, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

DATASET = keccak(text="browser-governance.csv").hex()


def sign_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/governance/")
    page.get_by_role("link", name="Connect wallet").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")


def test_badge_holder_proposes_votes_gasless_queues_and_executes(
    browser_context, live_server, chain, deployed
):
    holder = Account.from_key(ANVIL_DEV_KEYS[1])  # a genesis holder of every council
    page = browser_context.new_page()
    errors = watch_for_page_errors(page)
    wallet = ChainWallet(holder, chain_id=31337, w3=chain.w3)
    wallet.install(page)
    sign_in(page, live_server)

    page.goto(f"{live_server.url}/governance/new/approve_dataset/")
    page.get_by_label("Dataset sha256").fill(DATASET)
    page.get_by_label("Where to get it").fill("synod://datasets/browser")
    page.get_by_label("License").fill("CC0-1.0")
    page.get_by_label("Title").fill("Approve the browser dataset")
    page.get_by_test_id("submit-proposal").click()
    page.wait_for_url(re.compile(r".*/governance/data/\d+/$"), timeout=60_000)
    expect(page.get_by_test_id("proposal-title")).to_have_text("Approve the browser dataset")
    expect(page.get_by_test_id("action-summary")).to_contain_text(
        f"approve dataset sha256 {DATASET}"
    )

    chain.mine(2)  # past the voting delay
    sync()  # what Celery beat does every few seconds
    page.reload()
    expect(page.get_by_test_id("detail-state")).to_have_text("Active", timeout=15_000)
    page.get_by_label("Reason").fill("Clean and permissively licensed.")
    page.get_by_test_id("vote-gasless").click()
    expect(page.locator("[data-tx-status]")).to_have_text("Vote confirmed.", timeout=60_000)
    assert "eth_signTypedData_v4" in wallet.calls
    assert wallet.typed_data_signed[0]["primaryType"] == "ExtendedBallot"
    expect(page.get_by_test_id("votes")).to_contain_text("Clean and permissively licensed.")
    expect(page.get_by_test_id("votes")).to_contain_text("relayed")

    proposal = Proposal.objects.get(council="data")
    council = bindings.contract("DataCouncil", w3=chain.w3)
    second = Account.from_key(ANVIL_DEV_KEYS[2]).address
    chain.w3.eth.wait_for_transaction_receipt(
        council.functions.castVote(int(proposal.proposal_id), 1).transact({"from": second})
    )
    chain.mine(proposal.vote_end - chain.w3.eth.block_number + 1)
    sync()
    page.reload()
    page.get_by_test_id("queue").click()
    expect(page.locator("[data-tx-status]")).to_have_text("Queue confirmed.", timeout=60_000)

    chain.rpc("evm_increaseTime", [3600])
    chain.mine(1)
    sync()
    page.reload()
    page.get_by_test_id("execute").click()
    expect(page.locator("[data-tx-status]")).to_have_text("Execution confirmed.", timeout=60_000)
    page.reload()
    expect(page.get_by_test_id("detail-state")).to_have_text("Executed")
    registry = bindings.contract("ModelRegistry", w3=chain.w3)
    assert registry.functions.isDatasetApproved(bytes.fromhex(DATASET)).call()
    page.screenshot(path="/tmp/governance-detail.png", full_page=True)
    page.goto(f"{live_server.url}/governance/")
    expect(page.get_by_test_id("proposal-state")).to_have_text("Executed")
    page.screenshot(path="/tmp/governance-list.png", full_page=True)
    assert not errors, errors
