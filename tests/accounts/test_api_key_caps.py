"""Per-API-key spending caps: set at creation, edited per key, shown in the list, never above
the account's spending allowance; and the spending allowance panel of the API keys page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from synod.accounts import selectors, services
from synod.accounts.errors import ApiKeyRefused
from synod.accounts.models import User, UserAPIKey
from tests.tickets.ledger_helpers import fund

pytestmark = pytest.mark.django_db

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil dev account 1
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil dev account 2
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def no_deployed_contracts(settings, tmp_path):
    """No deployment record: the ticket figures come from the ledger alone, no node asked."""
    settings.DEPLOYMENTS_DIR = tmp_path


@pytest.fixture
def user() -> User:
    return User.objects.create_user(ADDRESS)


@pytest.fixture
def client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def create(client: Client, name: str, cap: str = "") -> str:
    form = client.get(reverse("accounts:api-keys")).context["form"]
    response = client.post(
        reverse("accounts:api-keys"),
        {"name": name, "spending_cap_tickets": cap,
         "client_token": form.fields["client_token"].initial},
        **HTMX,
    )  # fmt: skip
    return response


def test_a_key_is_created_with_a_cap_and_lists_it(client, user):
    response = create(client, "batch jobs", "40")
    assert response.status_code == 200
    key = UserAPIKey.objects.get(user=user)
    assert key.spending_cap_tickets == 40
    page = text(response)
    assert "cap 40 tickets" in page
    assert 'name="spending_cap_tickets" type="number" min="1" step="1" value="40"' in page

    create(client, "no cap")
    assert UserAPIKey.objects.get(name="no cap").spending_cap_tickets is None


def test_a_cap_below_one_ticket_is_refused_at_creation(client, user):
    response = create(client, "zero", "0")
    assert response.status_code == 400
    assert not UserAPIKey.objects.filter(user=user).exists()


def test_the_cap_is_edited_and_removed_per_key(client, user):
    created = services.create_api_key(user=user, name="ci", spending_cap_tickets=5)
    prefix = created.api_key.prefix
    url = reverse("accounts:api-key-cap", args=[prefix])
    response = client.post(url, {"spending_cap_tickets": "12"}, **HTMX)
    assert response.status_code == 200
    assert f"Key {prefix}… now has a cap of 12 tickets." in text(response)
    assert UserAPIKey.objects.get(prefix=prefix).spending_cap_tickets == 12

    response = client.post(url, {"spending_cap_tickets": ""}, **HTMX)
    assert "now has no cap of its own" in text(response)
    assert UserAPIKey.objects.get(prefix=prefix).spending_cap_tickets is None

    assert client.post(url, {"spending_cap_tickets": "-3"}, **HTMX).status_code == 400
    assert client.post(url, {"spending_cap_tickets": "many"}, **HTMX).status_code == 400
    # Without htmx the form posts and the page comes back.
    assert client.post(url, {"spending_cap_tickets": "3"}).status_code == 302


def test_only_the_owner_sets_a_keys_cap(client, user):
    theirs = services.create_api_key(user=User.objects.create_user(OTHER), name="theirs")
    url = reverse("accounts:api-key-cap", args=[theirs.api_key.prefix])
    assert client.post(url, {"spending_cap_tickets": "1"}, **HTMX).status_code == 404
    assert UserAPIKey.objects.get(pk=theirs.api_key.pk).spending_cap_tickets is None
    assert Client().post(url, {"spending_cap_tickets": "1"}).status_code == 302  # sign in


def test_a_cap_never_exceeds_the_spending_allowance(client, user):
    fund(ADDRESS, deposit=100, allowance=20)
    with pytest.raises(ApiKeyRefused, match=r"spending allowance \(20 tickets left\)"):
        services.create_api_key(user=user, name="too much", spending_cap_tickets=21)
    created = services.create_api_key(user=user, name="fits", spending_cap_tickets=20)
    with pytest.raises(ApiKeyRefused, match="must not exceed"):
        services.set_api_key_spending_cap(user=user, prefix=created.api_key.prefix, cap=25)
    url = reverse("accounts:api-key-cap", args=[created.api_key.prefix])
    response = client.post(url, {"spending_cap_tickets": "25"}, **HTMX)
    assert response.status_code == 400 and "must not exceed your spending allowance" in text(
        response
    )


def test_without_an_allowance_in_force_any_cap_is_kept(user):
    account = fund(ADDRESS, deposit=100, allowance=5)
    account.allowance_valid_until = datetime.now(tz=UTC) - timedelta(days=1)
    account.save()
    created = services.create_api_key(user=user, name="later", spending_cap_tickets=500)
    assert created.api_key.spending_cap_tickets == 500


def test_the_service_and_the_key_lookup_carry_the_cap(user):
    created = services.create_api_key(user=user, name="svc")
    key = services.set_api_key_spending_cap(user=user, prefix=created.api_key.prefix, cap=7)
    assert key is not None and key.spending_cap_tickets == 7
    assert selectors.api_key_for_secret(created.secret).spending_cap_tickets == 7
    assert services.set_api_key_spending_cap(user=user, prefix="nope", cap=1) is None
    services.revoke_api_key(user=user, prefix=created.api_key.prefix)
    with pytest.raises(ApiKeyRefused, match="revoked"):
        services.set_api_key_spending_cap(user=user, prefix=created.api_key.prefix, cap=2)


def test_api_keys_page_shows_the_spending_allowance_panel(client):
    fund(ADDRESS, deposit=30, allowance=25)
    page = text(client.get(reverse("accounts:api-keys")))
    assert "Spending allowance" in page
    assert 'data-testid="allowance-remaining">25 tickets<' in page
    assert "data-allowance-form" in page
    assert reverse("tickets:allowance-typed-data") in page
    figures = text(client.get(reverse("tickets:allowance-figures")))
    assert 'data-testid="allowance-remaining">25 tickets<' in figures


def test_api_keys_page_without_an_allowance(client):
    page = text(client.get(reverse("accounts:api-keys")))
    assert "no allowance signed yet" in page
