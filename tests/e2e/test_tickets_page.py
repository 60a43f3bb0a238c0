"""A user, in a real browser with an injected wallet, buys tickets (live quote, change
refunded), deposits them with one permit signature, sees the balances follow, is refused a
withdrawal larger than the deposit in words, requests a smaller one and sees the countdown to
when it can be completed."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from eth_account import Account
from playwright.sync_api import expect

import synod.tickets.handlers  # noqa: F401 (registers the escrow mirror's handlers)
from synod.chain import bindings
from synod.chain.devnode import ANVIL_DEV_KEYS
from synod.chain.services import index_chain, resend_unfinished
from synod.tickets import services
from synod.tickets.services import ledger
from tests.e2e.test_browser_sign_in import watch_for_page_errors
from tests.e2e.wallet import ChainWallet
from tests.tickets.ledger_helpers import DOMAIN, MODEL, PROVIDER, receipt_for

pytestmark = [pytest.mark.browser, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000


@contextmanager
def beat_indexing(every_s: float = 0.5, *, relay: bool = False) -> Iterator[None]:
    """What Celery beat and a worker do while the platform runs: index new blocks, so the
    ledger's mirror of the escrow follows the chain (and, with `relay`, bring the platform's
    own transactions forward: their receipts recorded)."""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(every_s):
                if relay:
                    resend_unfinished()
                index_chain()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def test_buy_deposit_by_permit_and_request_a_withdrawal(
    browser_context, live_server, chain, deployed
):
    account = Account.from_key(ANVIL_DEV_KEYS[7])
    page = browser_context.new_page()
    errors = watch_for_page_errors(page)
    wallet = ChainWallet(account, chain_id=31337, w3=chain.w3)
    wallet.install(page)

    page.goto(f"{live_server.url}/governance/")
    page.get_by_role("link", name="Connect wallet").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tickets").click()
    page.wait_for_url(f"{live_server.url}/tickets/")
    expect(page.get_by_test_id("ticket-price")).to_have_text("0.001 ETH")
    expect(page.get_by_test_id("balance-wallet")).to_have_text("0")

    with beat_indexing():
        # Buy: the quote follows the typing; the change is refunded by the contract.
        page.get_by_test_id("buy-eth").fill("0.0035")
        expect(page.get_by_test_id("quote-tickets")).to_have_text("3", timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("quote-change")).to_have_text("0.0005 ETH")
        page.get_by_test_id("buy").click()
        expect(page.get_by_test_id("buy-status")).to_have_text(
            "Purchase confirmed.", timeout=TIMEOUT_MS
        )
        expect(page.get_by_test_id("balance-wallet")).to_have_text("3", timeout=TIMEOUT_MS)

        # Deposit with one permit signature (the wallet signs typed data, then sends once).
        sent_before = wallet.calls.count("eth_sendTransaction")
        page.get_by_test_id("deposit-amount").fill("2")
        page.get_by_test_id("deposit").click()
        expect(page.get_by_test_id("deposit-status")).to_have_text(
            "Deposit confirmed.", timeout=TIMEOUT_MS
        )
        assert wallet.typed_data_signed[-1]["primaryType"] == "Permit"
        assert wallet.calls.count("eth_sendTransaction") == sent_before + 1  # no approve
        expect(page.get_by_test_id("balance-wallet")).to_have_text("1", timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("balance-deposited")).to_have_text("2", timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("balance-withdrawable")).to_have_text("2")

        # A withdrawal above the deposit is refused before the wallet is asked.
        sent_before = wallet.calls.count("eth_sendTransaction")
        page.get_by_test_id("withdraw-amount").fill("5")
        page.get_by_test_id("request-withdrawal").click()
        expect(page.get_by_test_id("withdraw-status")).to_have_text(
            "You have 2 tickets deposited; you cannot withdraw 5.", timeout=TIMEOUT_MS
        )
        assert wallet.calls.count("eth_sendTransaction") == sent_before
        assert errors and all(" 409 " in e for e in errors), errors  # the refusal's status
        errors.clear()

        page.get_by_test_id("withdraw-amount").fill("1")
        page.get_by_test_id("request-withdrawal").click()
        expect(page.get_by_test_id("withdraw-status")).to_have_text(
            "Withdrawal request confirmed.", timeout=TIMEOUT_MS
        )
        pending = page.get_by_test_id("withdrawal-pending")
        expect(pending).to_contain_text("1 ticket pending withdrawal", timeout=TIMEOUT_MS)
        countdown = page.get_by_test_id("withdrawal-countdown")
        expect(countdown).to_have_text(re.compile(r"^\d+ (h|min) "))
        first = countdown.inner_text()
        page.wait_for_timeout(1_500)
        assert countdown.inner_text() != first  # it ticks

        # Completing before the delay is refused, in words.
        page.get_by_test_id("complete-withdrawal").click()
        expect(page.get_by_test_id("withdraw-status")).to_contain_text(
            "can be completed in", timeout=TIMEOUT_MS
        )
    page.screenshot(path="/tmp/tickets-page.png", full_page=True)
    assert all(" 409 " in e for e in errors), errors


class WalletWithoutTypedData(ChainWallet):
    """A wallet that signs no EIP-712 data (until `typed_data` is switched on)."""

    typed_data = False

    def handle(self, method: str, params: list) -> dict:
        if method == "eth_signTypedData_v4" and not self.typed_data:
            self.calls.append(method)
            return {"error": {"code": 4200, "message": "eth_signTypedData_v4 is not supported"}}
        return super().handle(method, params)


def test_approve_fallback_allowance_usage_chart_and_provider_page(
    browser_context, live_server, chain, deployed, monkeypatch
):
    account = Account.from_key(ANVIL_DEV_KEYS[8])
    ticket = bindings.contract("PromptTicket", w3=chain.w3)
    price = ticket.functions.ticketPrice().call()
    chain.w3.eth.wait_for_transaction_receipt(
        ticket.functions.buy().transact({"from": account.address, "value": price * 4})
    )
    page = browser_context.new_page()
    errors = watch_for_page_errors(page)
    wallet = WalletWithoutTypedData(account, chain_id=31337, w3=chain.w3)
    wallet.install(page)
    page.goto(f"{live_server.url}/governance/")
    page.get_by_role("link", name="Connect wallet").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")

    with beat_indexing(relay=True):
        # No typed-data signing in this wallet: approve, then deposit.
        page.goto(f"{live_server.url}/tickets/")
        sent_before = wallet.calls.count("eth_sendTransaction")
        page.get_by_test_id("deposit-amount").fill("3")
        page.get_by_test_id("deposit").click()
        expect(page.get_by_test_id("deposit-status")).to_have_text(
            "Deposit confirmed.", timeout=TIMEOUT_MS
        )
        assert wallet.calls.count("eth_sendTransaction") == sent_before + 2  # approve, deposit
        expect(page.get_by_test_id("balance-deposited")).to_have_text("3", timeout=TIMEOUT_MS)

        # The spending allowance: signed in the wallet, relayed by the platform, followed.
        wallet.typed_data = True
        page.get_by_role("navigation", name="Main").get_by_role("link", name="API").click()
        page.get_by_test_id("allowance-max").fill("50")
        page.get_by_test_id("allowance-until").fill(
            (datetime.now(tz=UTC) + timedelta(days=7)).date().isoformat()
        )
        page.get_by_test_id("allowance-sign").click()
        expect(page.get_by_test_id("allowance-status")).to_have_text(
            "Spending allowance confirmed.", timeout=TIMEOUT_MS
        )
        assert wallet.typed_data_signed[-1]["primaryType"] == "SpendingAllowance"
        expect(page.get_by_test_id("allowance-remaining")).to_have_text(
            "50 tickets", timeout=TIMEOUT_MS
        )
        page.screenshot(path="/tmp/api-keys-allowance.png", full_page=True)

    # One charged call, settled: the usage page lists it and draws the chart.
    monkeypatch.setattr(ledger, "receipt_domain", lambda: DOMAIN)
    reservation = services.reserve_call(
        address=account.address, model_hash=MODEL, price=2, provider=PROVIDER
    )
    services.charge_call(
        call_id=reservation.call_id, signed_receipt=receipt_for(reservation), latency_ms=9
    )
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    expect(page.locator(f'[data-call-id="{reservation.call_id}"]')).to_contain_text("9 ms")
    expect(page.locator("[data-usage-chart] > svg > rect")).to_have_count(1)
    page.screenshot(path="/tmp/usage-page.png", full_page=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Provider").click()
    expect(page.get_by_test_id("earnings-claimable")).to_have_text("0")
    page.get_by_test_id("claim").click()
    expect(page.get_by_test_id("claim-status")).to_have_text(
        "You have no credited tickets to claim yet.", timeout=TIMEOUT_MS
    )
    assert all(" 409 " in e for e in errors), errors  # only the refused claim
