"""The whole browser path: wallet sign-in, dashboard, an API key used and revoked, sign-out."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from synod.accounts.models import UserAPIKey
from synod.chain.compiler import load_artifact
from tests.accounts.siwe_helpers import dev_account
from tests.e2e.wallet import ScriptedWallet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/dashboard.png"


def api_get(url: str, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def watch_for_page_errors(page) -> list[str]:
    """Console errors and CSP violations: the pages must produce none."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_wallet_sign_in_api_key_round_trip_and_sign_out(
    browser_context, live_server, chain, deployed
):
    account = dev_account()
    ticket = chain.w3.eth.contract(
        address=deployed["PromptTicket"].address, abi=load_artifact("PromptTicket")["abi"]
    )
    price = ticket.functions.ticketPrice().call()
    chain.w3.eth.wait_for_transaction_receipt(
        ticket.functions.buy().transact({"from": account.address, "value": price * 5})
    )

    page = browser_context.new_page()
    errors = watch_for_page_errors(page)
    wallet = ScriptedWallet(account, chain_id=1)  # starts on the wrong chain
    wallet.install(page)

    page.goto(f"{live_server.url}/governance/")
    page.get_by_role("link", name="Connect wallet").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")

    assert wallet.calls[:3] == ["eth_requestAccounts", "eth_chainId", "wallet_switchEthereumChain"]
    (message,) = wallet.signed_messages
    host = live_server.url.removeprefix("http://")
    assert message.startswith(f"{host} wants you to sign in with your Ethereum account:\n")
    assert f"\n{account.address}\n" in message
    assert f"URI: {live_server.url}\n" in message and "Chain ID: 31337\n" in message
    assert "Expiration Time: " in message

    expect(page.get_by_test_id("account-address")).to_have_text(
        f"{account.address[:6]}…{account.address[-4:]}"
    )
    expect(page.get_by_test_id("dashboard-address")).to_have_text(account.address)
    expect(page.get_by_test_id("tickets")).to_contain_text("5")
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("link", name="API", exact=True).click()
    page.get_by_label("Name").fill("browser test")
    page.get_by_test_id("create-key").click()
    secret = page.get_by_test_id("new-key-secret").inner_text().strip()
    page.screenshot(path="/tmp/api-keys.png", full_page=True)
    assert re.fullmatch(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}", secret)

    status, body = api_get(f"{live_server.url}/api/v1/account", secret)
    assert status == 200
    assert body["address"] == account.address and body["tickets_wallet"] == 5

    page.reload()  # shown once: a fresh page has the key's prefix, never its secret
    assert secret not in page.content()
    expect(page.get_by_test_id("key-status")).to_have_text("active")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("revoke-key").click()
    expect(page.get_by_test_id("key-status")).to_have_text("revoked")
    assert UserAPIKey.objects.get().revoked
    status, body = api_get(f"{live_server.url}/api/v1/account", secret)
    assert status == 403 and "revoked" in body["detail"]

    page.goto(f"{live_server.url}/tickets/")
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="Connect wallet")).to_be_visible()
    page.goto(f"{live_server.url}/dashboard/")
    assert page.url.startswith(f"{live_server.url}/auth/sign-in")
    assert errors == []


def test_wallet_problems_get_clear_messages(browser_context, live_server):
    page = browser_context.new_page()
    errors = watch_for_page_errors(page)
    page.goto(f"{live_server.url}/auth/sign-in")
    page.get_by_test_id("connect-wallet").click()
    expect(page.locator("[data-siwe-status]")).to_contain_text("No wallet found")

    page = browser_context.new_page()
    wallet = ScriptedWallet(dev_account(), reject={"personal_sign"})
    wallet.install(page)
    page.goto(f"{live_server.url}/auth/sign-in")
    page.get_by_test_id("connect-wallet").click()
    expect(page.locator("[data-siwe-status]")).to_contain_text("You rejected the request")

    page = browser_context.new_page()
    wallet = ScriptedWallet(dev_account(), chain_id=1, reject={"wallet_switchEthereumChain"})
    wallet.install(page)
    page.goto(f"{live_server.url}/auth/sign-in")
    page.get_by_test_id("connect-wallet").click()
    expect(page.locator("[data-siwe-status]")).to_contain_text("Wrong network")
    assert "personal_sign" not in wallet.calls
    assert errors == []


def test_api_docs_load_under_the_csp(browser_context, live_server):
    page = browser_context.new_page()
    errors = watch_for_page_errors(page)
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui").first).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e], errors
