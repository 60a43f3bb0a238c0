"""The tickets, usage and provider pages against a real anvil node: each transaction the server
builds (buy, deposit by permit or approve + deposit, request and complete a withdrawal,
claim), each refusal in words, reverts decoded, and the usage, CSV and proof downloads kept
to their owner."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from eth_account import Account
from eth_utils import keccak, to_checksum_address

import synod.tickets.handlers  # noqa: F401 (registers the escrow mirror's handlers)
from synod.accounts.models import User
from synod.chain.devnode import ANVIL_DEV_KEYS
from synod.chain.services import index_chain
from synod.tickets import services
from synod.tickets.models import EscrowCredit, MeteredCall, SettlementBatch
from synod.tickets.services import ledger
from tests.support.suite import Suite
from tests.tickets.ledger_helpers import DOMAIN, MODEL, PROVIDER, fund, receipt_for

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

USER_KEY = ANVIL_DEV_KEYS[7]
USER = Account.from_key(USER_KEY).address
OTHER = Account.from_key(ANVIL_DEV_KEYS[8]).address
PRICE_WEI = 10**15  # TICKET_PRICE_WEI's local default: 0.001 ETH
AS_SCRIPT = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(User.objects.create_user(USER))
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def post(client: Client, name: str, data: dict | None = None):
    return client.post(reverse(f"tickets:{name}"), data or {}, **AS_SCRIPT)


def wallet_send(suite: Suite, call: dict, sender: str = USER) -> dict:
    """What tickets.js does: hand the server-built call to the wallet unchanged."""
    tx = suite.w3.eth.send_transaction(
        {"from": sender, "to": call["to"], "data": call["data"], "value": int(call["value"], 16)}
    )
    receipt = suite.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, receipt
    return receipt


def build_and_send(suite: Suite, client: Client, name: str, data: dict | None = None) -> dict:
    response = post(client, name, data)
    assert response.status_code == 200, response.content
    return wallet_send(suite, response.json()["call"])


def refused(response, status: int, *phrases: str) -> str:
    assert response.status_code == status, (response.status_code, response.content)
    detail = response.json()["detail"]
    for phrase in phrases:
        assert phrase in detail, detail
    return detail


def wallet_tickets(suite: Suite, address: str = USER) -> int:
    return suite["PromptTicket"].functions.balanceOf(address).call()


def deposit_by_permit(suite: Suite, client: Client, amount: int) -> None:
    permit = post(client, "deposit-permit", {"amount": amount})
    assert permit.status_code == 200, permit.content
    typed = permit.json()["typedData"]
    signature = "0x" + Account.sign_typed_data(USER_KEY, full_message=typed).signature.hex()
    data = {"amount": amount, "deadline": permit.json()["deadline"], "signature": signature}
    build_and_send(suite, client, "deposit-call", data)


# --- sign-in and the page -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/tickets/",
        "/tickets/balances",
        "/usage/",
        "/usage/export.csv",
        "/usage/batches/1/proofs.json",
        "/provider/",
    ],
)
def test_pages_ask_for_sign_in(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:sign-in"))


def test_transaction_endpoints_ask_for_sign_in():
    response = Client().post(reverse("tickets:buy-call"), {"eth": "1"})
    assert response.status_code == 302


def test_page_shows_price_balances_and_the_actions(suite, client):
    suite.buy_tickets(USER, 4)
    response = client.get(reverse("tickets:page"))
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="ticket-price">0.001 ETH' in page
    assert 'data-testid="balance-wallet">4<' in page
    assert 'data-testid="balance-deposited">0<' in page
    for action in ("buy", "deposit", "request-withdrawal", "complete-withdrawal"):
        assert f'data-testid="{action}"' in page
    assert 'aria-current="page">Tickets<' in page


def test_page_says_when_the_chain_is_away(client, settings, deployed):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"
    response = client.get(reverse("tickets:page"))
    assert response.status_code == 200
    assert "The chain does not answer right now" in text(response)
    refused(post(client, "buy-call", {"eth": "0.01"}), 503, "the chain does not answer")
    assert "The chain does not answer" in text(client.get(reverse("providers:page")))


# --- quote and buy ----------------------------------------------------------------------------


def test_quote_counts_tickets_and_change(suite, client):
    page = text(client.get(reverse("tickets:quote"), {"eth": "0.0035"}))
    assert 'data-testid="quote-tickets">3<' in page
    assert "0.0005 ETH</span> change refunded" in page
    dust = client.get(reverse("tickets:quote"), {"eth": "0.0002"})
    assert "less than one ticket's price (0.001 ETH)" in text(dust)
    wrong = client.get(reverse("tickets:quote"), {"eth": "lots"})
    assert wrong.status_code == 400 and "Enter an amount of ETH" in text(wrong)


def test_buy_is_built_by_the_server_and_refunds_the_change(suite, client):
    response = post(client, "buy-call", {"eth": "0.0035"})
    assert response.status_code == 200, response.content
    answer = response.json()
    call = answer["call"]
    assert call["to"] == suite.records["PromptTicket"].address
    assert int(call["value"], 16) == int(Decimal("0.0035") * 10**18)
    assert answer["tickets"] == 3 and answer["change"] == "0.0005"
    assert call["description"] == "Buy 3 tickets for 0.003 ETH (0.0005 ETH change refunded)"
    before = suite.w3.eth.get_balance(USER)
    receipt = wallet_send(suite, call)
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert wallet_tickets(suite) == 3
    assert before - suite.w3.eth.get_balance(USER) - gas == 3 * PRICE_WEI  # change came back


def test_buy_refusals(suite, client):
    refused(post(client, "buy-call", {"eth": "0"}), 400, "more than zero")
    refused(post(client, "buy-call", {"eth": "0.0005"}), 400, "0.0005 ETH is dust", "0.001 ETH")
    refused(post(client, "buy-call", {"eth": "-1"}), 400)
    refused(post(client, "buy-call", {"eth": "1e-19"}), 400)
    detail = refused(post(client, "buy-call", {"eth": "100000000"}), 409, "Your wallet holds")
    assert "100000000 ETH" in detail


# --- deposit ----------------------------------------------------------------------------------


def test_deposit_with_one_permit_signature(suite, client):
    suite.buy_tickets(USER, 5)
    deposit_by_permit(suite, client, 3)
    escrow = suite["TicketEscrow"]
    assert escrow.functions.deposits(USER).call() == 3
    assert wallet_tickets(suite) == 2
    index_chain()
    page = text(client.get(reverse("tickets:balances")))
    assert 'data-testid="balance-deposited">3<' in page
    assert 'data-testid="balance-wallet">2<' in page


def test_deposit_permit_refusals(suite, client):
    suite.buy_tickets(USER, 2)
    refused(post(client, "deposit-permit", {"amount": 3}), 409, "Your wallet holds 2 tickets")
    refused(post(client, "deposit-permit", {"amount": 0}), 400, "at least one ticket")
    permit = post(client, "deposit-permit", {"amount": 2}).json()
    stranger = Account.sign_typed_data(ANVIL_DEV_KEYS[8], full_message=permit["typedData"])
    wrong_signer = {
        "amount": 2, "deadline": permit["deadline"],
        "signature": "0x" + stranger.signature.hex().removeprefix("0x"),
    }  # fmt: skip
    refused(post(client, "deposit-call", wrong_signer), 409, "not signed by your account")
    mine = Account.sign_typed_data(USER_KEY, full_message=permit["typedData"])
    other_amount = {
        "amount": 1, "deadline": permit["deadline"],
        "signature": "0x" + mine.signature.hex().removeprefix("0x"),
    }  # fmt: skip
    refused(post(client, "deposit-call", other_amount), 409, "not signed by your account")
    refused(post(client, "deposit-call", {**other_amount, "signature": "0x12"}), 400)


def test_deposit_by_approve_then_deposit(suite, client):
    suite.buy_tickets(USER, 4)
    refused(post(client, "deposit-call", {"amount": 4}), 409, "approve 4 first")
    build_and_send(suite, client, "approve-call", {"amount": 4})
    build_and_send(suite, client, "deposit-call", {"amount": 4})
    assert suite["TicketEscrow"].functions.deposits(USER).call() == 4
    refused(post(client, "approve-call", {"amount": 1}), 409, "Your wallet holds 0 tickets")


# --- withdrawals ------------------------------------------------------------------------------


def test_request_then_complete_a_withdrawal_after_the_delay(suite, client):
    suite.buy_tickets(USER, 5)
    deposit_by_permit(suite, client, 5)
    index_chain()
    refused(post(client, "complete-call"), 409, "no withdrawal to complete")
    refused(post(client, "request-call", {"amount": 6}), 409, "You have 5 tickets deposited")
    build_and_send(suite, client, "request-call", {"amount": 2})

    page = text(client.get(reverse("tickets:balances")))
    assert 'data-testid="withdrawal-pending"' in page
    seconds = int(re.search(r'data-countdown data-seconds-left="(\d+)"', page).group(1))
    delay = suite["TicketEscrow"].functions.withdrawalDelay().call()
    # Counted from the later of the node's clock and ours: anvil's clock stays behind the
    # wall clock after earlier tests rolled the chain back, so only the bounds are exact.
    assert 0 < seconds <= delay
    refused(post(client, "complete-call"), 409, "can be completed in", "chain time")

    suite.increase_time(delay + 1)
    assert 'data-testid="withdrawal-ready"' in text(client.get(reverse("tickets:balances")))
    build_and_send(suite, client, "complete-call")
    assert wallet_tickets(suite) == 2
    assert suite["TicketEscrow"].functions.deposits(USER).call() == 3


def test_a_withdrawal_that_would_strand_reserved_tickets_is_refused(suite, client):
    suite.buy_tickets(USER, 5)
    deposit_by_permit(suite, client, 5)
    index_chain()
    account = services.account_for(USER)
    account.reserved, account.charged = 2, 1
    account.save()
    detail = refused(post(client, "request-call", {"amount": 3}), 409, "would strand them")
    assert "Only 2 of your 5 tickets deposited can be withdrawn" in detail
    assert "withdraw at most 2" in detail
    build_and_send(suite, client, "request-call", {"amount": 2})


def test_request_without_a_deposit_is_refused(suite, client):
    refused(post(client, "request-call", {"amount": 1}), 409, "You have 0 tickets deposited")
    refused(post(client, "request-call", {"amount": "x"}), 400, "whole number")


# --- reverts in words ---------------------------------------------------------------------------


def test_a_reverting_call_is_explained_in_words(suite, client):
    escrow = suite["TicketEscrow"]
    data = escrow.encode_abi("completeWithdrawal", args=[])
    answer = post(client, "explain", {"to": escrow.address, "data": data, "value": "0x0"})
    assert answer.status_code == 200
    assert answer.json() == {
        "reverts": True,
        "detail": "You have no withdrawal to complete: request one first.",
    }
    ticket = suite["PromptTicket"]
    buy = {"to": ticket.address, "data": ticket.encode_abi("buy", args=[]), "value": hex(10)}
    assert "one ticket costs 0.001 ETH" in post(client, "explain", buy).json()["detail"]
    passes = {**buy, "value": hex(PRICE_WEI)}
    assert post(client, "explain", passes).json()["reverts"] is False
    foreign = {"to": "0x" + "12" * 20, "data": "0x", "value": "0x0"}
    refused(post(client, "explain", foreign), 400, "not one of the tickets page's")
    transfer = {
        "to": ticket.address, "data": ticket.encode_abi("transfer", args=[OTHER, 1]),
        "value": "0x0",
    }  # fmt: skip
    refused(post(client, "explain", transfer), 400, "not one of the tickets page's")


# --- provider earnings and claim ------------------------------------------------------------------


def credit_on_chain(suite: Suite, provider: str, amount: int) -> None:
    """Put `amount` tickets in the escrow as credited to `provider` (as a settlement would):
    the tickets are bought and moved in, and the `credits` slot written directly."""
    suite.buy_tickets(suite.accounts[9], amount)
    escrow = suite["TicketEscrow"]
    suite.send(suite["PromptTicket"].functions.transfer(escrow.address, amount), suite.accounts[9])
    key = bytes.fromhex(provider[2:].lower().rjust(64, "0"))

    def write(location: bytes, value: bytes) -> None:
        word = "0x" + value.rjust(32, b"\0").hex()
        suite.node.rpc("anvil_setStorageAt", [escrow.address, "0x" + location.hex(), word])

    for slot in range(64):
        location = keccak(key + slot.to_bytes(32, "big"))
        before = bytes(suite.w3.eth.get_storage_at(escrow.address, location))
        write(location, amount.to_bytes(32, "big"))
        if escrow.functions.credits(provider).call() == amount:
            return
        write(location, before)
    raise AssertionError("the credits mapping was not found")


def test_provider_page_shows_earnings_and_builds_the_claim(suite, client):
    refused(post(client, "claim-call"), 409, "no credited tickets to claim")
    EscrowCredit.objects.create(chain_id=31337, address=USER, credited=9, claimed=2)
    credit_on_chain(suite, USER, 7)
    page = text(client.get(reverse("providers:page")))
    assert 'data-testid="earnings-credited">9<' in page
    assert 'data-testid="earnings-claimed">2<' in page
    assert 'data-testid="earnings-claimable">7<' in page
    assert "later issue" in page
    response = post(client, "claim-call")
    assert response.json()["call"]["description"] == "Claim 7 credited tickets"
    wallet_send(suite, response.json()["call"])
    assert wallet_tickets(suite) == 7
    assert 'data-testid="earnings-claimable">0<' in text(client.get(reverse("providers:earnings")))


# --- usage, CSV and proofs ----------------------------------------------------------------------


@pytest.fixture
def charged_call(monkeypatch):
    """One charged call of USER, in a settled batch."""
    monkeypatch.setattr(ledger, "receipt_domain", lambda: DOMAIN)
    fund(USER, deposit=10)
    reservation = services.reserve_call(address=USER, model_hash=MODEL, price=3, provider=PROVIDER)
    call = services.charge_call(
        call_id=reservation.call_id, signed_receipt=receipt_for(reservation), latency_ms=42
    )
    batch = SettlementBatch.objects.create(
        chain_id=31337, number=1, status=SettlementBatch.Status.SETTLED,
        receipts_root="0x" + "11" * 32, tx_hash="0x" + "22" * 32,
    )  # fmt: skip
    MeteredCall.objects.filter(pk=call.pk).update(batch=batch)
    return call


def test_usage_page_lists_calls_chart_and_batches(client, charged_call):
    response = client.get(reverse("tickets:usage"))
    assert response.status_code == 200
    page = text(response)
    assert f'data-call-id="{charged_call.call_id}"' in page
    assert "42 ms" in page and ">settled<" in page and "batch #1" in page
    assert "receipt-json" in page
    assert reverse("tickets:batch-proofs", args=[1]) in page
    assert "data-usage-chart=" in page and "&quot;tickets&quot;: 3" in page
    assert 'aria-current="page">Usage<' in page


def test_usage_pages_back_in_time(client, charged_call):
    assert str(charged_call.call_id) not in text(
        client.get(reverse("tickets:usage"), {"before": charged_call.created_at.isoformat()})
    )
    after = (charged_call.created_at + timedelta(seconds=1)).isoformat()
    assert str(charged_call.call_id) in text(
        client.get(reverse("tickets:usage"), {"before": after})
    )
    for odd in ("x", "2020-13-45T00:00:00", "2020-01-01"):
        assert client.get(reverse("tickets:usage"), {"before": odd}).status_code == 200


def test_csv_export_holds_only_the_owners_calls(client, charged_call):
    response = client.get(reverse("tickets:usage-csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["time", "call_id", "model_sha256"]
    assert len(rows) == 2 and rows[1][1] == str(charged_call.call_id)

    other = Client()
    other.force_login(User.objects.create_user(OTHER))
    theirs = list(
        csv.reader(io.StringIO(b"".join(other.get("/usage/export.csv").streaming_content).decode()))
    )
    assert len(theirs) == 1  # the header only


def test_proofs_download_is_for_the_owner_only(client, charged_call):
    response = client.get(reverse("tickets:batch-proofs", args=[1]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    bundle = response.json()
    assert bundle["batch"] == 1 and bundle["user"] == to_checksum_address(USER)
    assert [r["call_id"] for r in bundle["receipts"]] == [str(charged_call.call_id)]

    other = Client()
    other.force_login(User.objects.create_user(OTHER))
    assert other.get(reverse("tickets:batch-proofs", args=[1])).status_code == 404
    assert client.get(reverse("tickets:batch-proofs", args=[2])).status_code == 404
    assert client.get("/usage/batches/x/proofs.json").status_code == 404


# --- spending allowance -------------------------------------------------------------------------


def test_allowance_is_signed_relayed_and_followed(suite, client):
    from datetime import UTC, datetime, timedelta

    day = (datetime.now(tz=UTC) + timedelta(days=3)).date().isoformat()
    response = post(client, "allowance-typed-data", {"max_tickets": 50, "valid_until": day})
    assert response.status_code == 200, response.content
    answer = response.json()
    typed = answer["typedData"]
    assert typed["primaryType"] == "SpendingAllowance"
    assert typed["message"]["user"] == USER and typed["message"]["maxTickets"] == 50
    signature = Account.sign_typed_data(USER_KEY, full_message=typed).signature.hex()
    sent = post(
        client, "allowance-submit",
        {"max_tickets": 50, "valid_until": answer["validUntil"],
         "signature": "0x" + signature.removeprefix("0x")},
    )  # fmt: skip
    assert sent.status_code == 202, sent.content
    assert sent.json()["status"] in ("pending", "confirmed")
    key = sent.json()["key"]
    status = client.get(reverse("tickets:allowance-status"), {"key": key}, **AS_SCRIPT)
    assert status.status_code == 200 and status.json()["key"] == key

    other = Client()
    other.force_login(User.objects.create_user(OTHER))
    assert other.get(reverse("tickets:allowance-status"), {"key": key}).status_code == 404

    past = post(client, "allowance-typed-data", {"max_tickets": 5, "valid_until": "2001-01-01"})
    refused(past, 400, "Pick today or a later day")


# --- no input reaches a traceback -----------------------------------------------------------------

ODD_VALUES = [
    "",
    "x",
    "-1",
    "0",
    "1e400",
    "NaN",
    "Infinity",
    "9" * 80,
    "0x" + "zz" * 65,
    "1.5.5",
    "0.0000000000000000001",
]


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("buy-call", "eth"),
        ("deposit-permit", "amount"),
        ("approve-call", "amount"),
        ("deposit-call", "amount"),
        ("deposit-call", "signature"),
        ("deposit-call", "deadline"),
        ("request-call", "amount"),
        ("explain", "data"),
        ("explain", "to"),
        ("allowance-typed-data", "max_tickets"),
        ("allowance-typed-data", "valid_until"),
        ("allowance-submit", "signature"),
        ("allowance-submit", "valid_until"),
    ],
)
def test_odd_input_is_refused_in_words_never_a_500(suite, client, name, field):
    for value in ODD_VALUES:
        data = {"amount": "1", "eth": "0.001", "deadline": "1", "max_tickets": "5",
                "valid_until": "2999-01-01", "to": "0x" + "12" * 20, "data": "0x",
                "signature": "0x" + "11" * 65, field: value}  # fmt: skip
        response = post(client, name, data)
        assert 400 <= response.status_code < 500, (name, field, value, response.content)
        assert response.json()["detail"], (name, field, value)
    quote = client.get(reverse("tickets:quote"), {"eth": "1e400"})
    assert quote.status_code == 400
