"""The dashboard shell: the address, badges and ticket figures, and the section pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from synod.accounts.models import User
from synod.chain.compiler import load_artifact

pytestmark = pytest.mark.django_db

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def client_for_user() -> Client:
    client = Client()
    client.force_login(User.objects.create_user(ADDRESS))
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_dashboard_shows_address_badges_and_tickets(client_for_user, chain, deployed):
    ticket = chain.w3.eth.contract(
        address=deployed["PromptTicket"].address, abi=load_artifact("PromptTicket")["abi"]
    )
    tx = ticket.functions.buy().transact(
        {"from": ADDRESS, "value": ticket.functions.ticketPrice().call() * 7}
    )
    chain.w3.eth.wait_for_transaction_receipt(tx)

    response = client_for_user.get(reverse("accounts:dashboard"))
    assert response.status_code == 200
    page = text(response)
    assert "0x7099…79C8" in page  # shortened in the header
    assert f'data-copy="{ADDRESS}"' in page
    assert "<dt>In wallet</dt><dd>7</dd>" in page
    figures = response.context["figures"]
    assert figures.error == ""
    assert figures.tickets.wallet == 7
    badge_names = {"data": "DataBadge", "model": "ModelBadge", "compute": "ComputeBadge"}
    for council, badge in badge_names.items():
        held = figures.badges[council]
        assert held is None if badge not in deployed else held in (True, False)
    if "DataBadge" not in deployed:
        assert "not deployed" in page


def test_dashboard_says_chain_unreachable_instead_of_failing(client_for_user, dead_chain):
    response = client_for_user.get(reverse("accounts:dashboard"))
    assert response.status_code == 200
    assert "Chain unreachable" in text(response)
    assert response.context["figures"].tickets is None


@pytest.mark.parametrize("name", ["tickets:page", "tickets:usage", "providers:page"])
def test_the_money_pages_are_the_signed_in_users_own(name):
    response = Client().get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:sign-in"))
    assert f"next={reverse(name)}" in response["Location"].replace("%2F", "/")


def test_navigation_reaches_every_section(client_for_user, dead_chain):
    page = text(client_for_user.get(reverse("accounts:dashboard")))
    for name in (
        "accounts:dashboard",
        "governance:list",
        "registry:model-list",
        "tickets:page",
        "tickets:usage",
        "accounts:api-keys",
        "providers:page",
    ):
        assert f'href="{reverse(name)}"' in page, name


def test_anonymous_header_offers_the_wallet_sign_in():
    page = text(Client().get(reverse("governance:list")))
    assert "data-siwe-connect" in page
    assert 'data-chain-id="31337"' in page
    assert f'href="{reverse("accounts:sign-in")}"' in page  # the no-JavaScript path


def test_admin_manages_wallet_users():
    admin = User.objects.create_superuser("0x90F79bf6EB2c4f870365E785982E1f101E93b906", "pw-123456")
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get(f"/admin/accounts/user/{admin.pk}/change/").status_code == 200
    response = client.post(
        "/admin/accounts/user/add/", {"address": "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65"}
    )
    assert response.status_code == 302
    added = User.objects.get(address="0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65")
    assert not added.has_usable_password()
    assert client.get("/admin/accounts/userapikey/").status_code == 200
