"""A badge holder, in a real browser, proposes a dataset approval, votes gasless (pending
until the platform's transaction is indexed, then counted), a second holder votes from the
wallet, and after the voting period the first queues and executes it; the dataset then
shows as approved."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
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


@contextmanager
def beat_indexing(every_s: float = 0.5) -> Iterator[None]:
    """What Celery beat and a worker do while it runs: index new blocks every moment. (The
    page's own request to index, answered 202, sends a task no worker takes in this test.)"""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(every_s):
                sync()
        finally:
            connection.close()  # this thread's own database connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


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
    # The page waits until the platform has indexed the proposal, then opens its page.
    with beat_indexing():
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
    status = page.locator("[data-tx-status]")

    # The relay's refusal ("never sent") is shown with its reason; an answer that is no
    # answer (a proxy's error page) leaves the outcome to the live area.
    refusal = "the council refused the vote: voting is closed"
    refused = json.dumps({"detail": refusal})
    answers = [
        {"status": 409, "content_type": "application/json", "body": refused},
        {"status": 502, "content_type": "text/html", "body": "<h1>Bad gateway</h1>"},
    ]
    page.route("**/relay", lambda route: route.fulfill(**answers.pop(0)))
    page.get_by_test_id("vote-gasless").click()
    expect(status).to_have_text(f"Your vote was not sent: {refusal}")
    page.get_by_test_id("vote-gasless").click()
    expect(status).to_have_text(
        re.compile(
            r"^No clear answer from the platform \(The server "
            r"answered 502\): your vote may or may not have been"
        )
    )
    page.unroute("**/relay")
    assert errors and all(" 409 " in e or " 502 " in e for e in errors), errors  # the answers
    errors.clear()

    receipts_asked = wallet.calls.count("eth_getTransactionReceipt")  # by the proposal step
    page.get_by_test_id("vote-gasless").click()
    expect(status).to_have_text(re.compile(r"^Pending: the platform is sending your vote"))
    # The live area shows the relayed ballot at once; the vote counts once it is indexed.
    expect(page.get_by_test_id("relay-status")).to_have_attribute("data-status", "pending")
    assert "eth_signTypedData_v4" in wallet.calls
    # The platform sends the vote: nothing is awaited from the wallet's node.
    assert wallet.calls.count("eth_getTransactionReceipt") == receipts_asked
    assert wallet.typed_data_signed[0]["primaryType"] == "ExtendedBallot"
    sync()
    # No reload: the live area, refreshed by the server, brings the outcome.
    expect(page.get_by_test_id("my-vote")).to_contain_text("(relayed)", timeout=15_000)
    expect(status).to_have_text("Vote counted.")
    page.reload()
    expect(page.get_by_test_id("votes")).to_contain_text("Clean and permissively licensed.")
    expect(page.get_by_test_id("votes")).to_contain_text("relayed")

    # A second holder votes from the wallet: the wallet sends, the page waits for its receipt.
    second_context = browser_context.browser.new_context(viewport={"width": 1280, "height": 860})
    second_page = second_context.new_page()
    second_errors = watch_for_page_errors(second_page)
    second_wallet = ChainWallet(Account.from_key(ANVIL_DEV_KEYS[2]), chain_id=31337, w3=chain.w3)
    second_wallet.install(second_page)
    sign_in(second_page, live_server)
    second_page.goto(page.url)
    second_page.get_by_role("button", name="Send from wallet").click()
    expect(second_page.locator("[data-tx-status]")).to_have_text("Vote confirmed.", timeout=60_000)
    assert {"eth_sendTransaction", "eth_getTransactionReceipt"} <= set(second_wallet.calls)
    assert not second_errors, second_errors
    second_context.close()

    proposal = Proposal.objects.get(council="data")
    chain.mine(proposal.vote_end - chain.w3.eth.block_number + 1)
    sync()
    page.reload()
    page.get_by_test_id("queue").click()
    expect(page.locator("[data-tx-status]")).to_have_text("Queue confirmed.", timeout=60_000)

    chain.rpc("evm_increaseTime", [3600])
    chain.mine(1)
    sync()
    page.reload()
    # Confirmed as soon as it is mined; the page shows it executed once it is indexed.
    with beat_indexing():
        page.get_by_test_id("execute").click()
        expect(page.locator("[data-tx-status]")).to_have_text(
            "Execution confirmed.", timeout=60_000
        )
        page.reload()
        expect(page.get_by_test_id("detail-state")).to_have_text("Executed", timeout=15_000)
    registry = bindings.contract("ModelRegistry", w3=chain.w3)
    assert registry.functions.isDatasetApproved(bytes.fromhex(DATASET)).call()
    page.screenshot(path="/tmp/governance-detail.png", full_page=True)
    page.goto(f"{live_server.url}/governance/")
    expect(page.get_by_test_id("proposal-state")).to_have_text("Executed")
    page.screenshot(path="/tmp/governance-list.png", full_page=True)
    assert not errors, errors
