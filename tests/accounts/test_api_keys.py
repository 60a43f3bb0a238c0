"""API keys: shown once, stored hashed, refused when revoked or expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from synod.accounts import services
from synod.accounts.models import User, UserAPIKey
from synod.chain.compiler import load_artifact

pytestmark = pytest.mark.django_db

ACCOUNT_URL = "/api/v1/account"
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil dev account 1


@pytest.fixture
def user() -> User:
    return User.objects.create_user(ADDRESS)


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def every_text_value_in_the_database() -> str:
    """All text stored in every table, to prove a secret never lands in any row."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            chunks.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(chunks)


def test_no_row_holds_a_plaintext_key(user):
    created = services.create_api_key(user=user, name="laptop")
    prefix, _, secret_part = created.secret.partition(".")
    stored = every_text_value_in_the_database()
    assert prefix in stored  # the public prefix is stored, by design
    assert secret_part not in stored
    assert created.secret not in stored
    row = UserAPIKey.objects.get()
    assert row.hashed_key.startswith("sha512$$")


def test_missing_key_is_401_with_a_bearer_challenge():
    response = Client().get(ACCOUNT_URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "header",
    ["Bearer AbCdEfGh.not-the-secret", "Bearer nodot", "Bearer " + "x" * 300, "Bearer a b"],
    ids=["unknown", "no-dot", "too-long", "two-parts"],
)
def test_unknown_or_malformed_key_is_403(user, header):
    services.create_api_key(user=user, name="real one")
    response = Client().get(ACCOUNT_URL, HTTP_AUTHORIZATION=header)
    assert response.status_code == 403
    assert response.json()["detail"]


def test_right_prefix_with_wrong_secret_is_403(user):
    created = services.create_api_key(user=user, name="laptop")
    prefix = created.api_key.prefix
    response = Client().get(ACCOUNT_URL, **bearer(f"{prefix}.{'A' * 32}"))
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid API key.", "code": "permission_denied"}


def test_revoked_key_is_403_and_revoking_is_idempotent(user):
    created = services.create_api_key(user=user, name="laptop")
    assert Client().get(ACCOUNT_URL, **bearer(created.secret)).status_code == 200
    assert services.revoke_api_key(user=user, prefix=created.api_key.prefix)
    assert services.revoke_api_key(user=user, prefix=created.api_key.prefix)
    response = Client().get(ACCOUNT_URL, **bearer(created.secret))
    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_another_users_key_cannot_be_revoked(user):
    other = User.objects.create_user("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
    created = services.create_api_key(user=other, name="theirs")
    assert not services.revoke_api_key(user=user, prefix=created.api_key.prefix)
    assert not UserAPIKey.objects.get().revoked


def test_expired_key_is_403(user):
    created = services.create_api_key(user=user, name="short-lived")
    UserAPIKey.objects.filter(pk=created.api_key.pk).update(
        expiry_date=timezone.now() - timedelta(seconds=1)
    )
    response = Client().get(ACCOUNT_URL, **bearer(created.secret))
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


def test_key_of_a_disabled_user_is_403(user):
    created = services.create_api_key(user=user, name="laptop")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert Client().get(ACCOUNT_URL, **bearer(created.secret)).status_code == 403


def test_valid_key_gets_the_account_and_records_its_use(user, chain, deployed):
    ticket = chain.w3.eth.contract(
        address=deployed["PromptTicket"].address, abi=load_artifact("PromptTicket")["abi"]
    )
    price = ticket.functions.ticketPrice().call()
    tx = ticket.functions.buy().transact({"from": ADDRESS, "value": price * 3})
    chain.w3.eth.wait_for_transaction_receipt(tx)

    created = services.create_api_key(user=user, name="laptop")
    assert created.api_key.last_used_at is None
    response = Client().get(ACCOUNT_URL, **bearer(created.secret))
    assert response.status_code == 200, response.content
    escrow_deployed = "TicketEscrow" in deployed
    assert response.json() == {
        "address": ADDRESS,
        "chain_reachable": True,
        "tickets_wallet": 3,
        "tickets_deposited": 0 if escrow_deployed else None,
        "tickets_reserved": 0,
        "tickets_spent": 0,
        "tickets_available": 0 if escrow_deployed else None,
    }
    assert UserAPIKey.objects.get().last_used_at is not None


def test_account_api_answers_when_the_chain_is_down(user, dead_chain):
    created = services.create_api_key(user=user, name="laptop")
    response = Client().get(ACCOUNT_URL, **bearer(created.secret))
    assert response.status_code == 200
    assert response.json() == {
        "address": ADDRESS,
        "chain_reachable": False,
        "tickets_wallet": None,
        "tickets_deposited": None,
        "tickets_reserved": None,
        "tickets_spent": None,
        "tickets_available": None,
    }


def test_schema_documents_the_account_api_with_bearer_auth():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    operation = schema["paths"]["/api/v1/account"]["get"]
    assert {"BearerApiKey": []} in operation["security"]
    scheme = schema["components"]["securitySchemes"]["BearerApiKey"]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "description": scheme["description"],
    }
    assert set(operation["responses"]) >= {"200", "401", "403", "429"}


# --- The API keys page ----------------------------------------------------------------------


@pytest.fixture
def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def create_via_page(client: Client, **fields):
    page = client.get(reverse("accounts:api-keys"))
    token = page.context["form"]["client_token"].value()
    data = {"name": "ci", "expires_on": "", "client_token": token, **fields}
    return client.post(reverse("accounts:api-keys"), data), data


def test_page_shows_a_new_key_once(signed_in):
    response, _ = create_via_page(signed_in, name="ci runner")
    assert response.status_code == 200
    secret = response.context["new_key"].secret
    assert secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    listing = signed_in.get(reverse("accounts:api-keys")).content.decode()
    assert "ci runner" in listing
    assert UserAPIKey.objects.get().prefix in listing
    assert secret.partition(".")[2] not in listing


def test_resubmitted_form_creates_one_key(signed_in):
    _, data = create_via_page(signed_in)
    again = signed_in.post(reverse("accounts:api-keys"), data)
    assert again.status_code == 409
    assert "already submitted" in again.content.decode()
    assert UserAPIKey.objects.count() == 1


def test_expiry_must_lie_in_the_future(signed_in):
    response, _ = create_via_page(signed_in, expires_on=timezone.localdate().isoformat())
    assert response.status_code == 400
    assert "after today" in response.content.decode()
    assert UserAPIKey.objects.count() == 0
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response, _ = create_via_page(signed_in, expires_on=tomorrow)
    assert response.status_code == 200
    assert UserAPIKey.objects.get().expiry_date.date().isoformat() == tomorrow


def test_page_revokes_with_htmx_and_without(signed_in, user):
    one = services.create_api_key(user=user, name="one")
    two = services.create_api_key(user=user, name="two")
    plain = signed_in.post(reverse("accounts:revoke-api-key", args=[one.api_key.prefix]))
    assert plain.status_code == 302
    partial = signed_in.post(
        reverse("accounts:revoke-api-key", args=[two.api_key.prefix]), HTTP_HX_REQUEST="true"
    )
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
    assert "revoked" in partial.content.decode()
    assert set(UserAPIKey.objects.values_list("revoked", flat=True)) == {True}
    missing = signed_in.post(reverse("accounts:revoke-api-key", args=["nope1234"]))
    assert missing.status_code == 404


def test_pages_need_sign_in():
    for name in ("accounts:api-keys", "accounts:dashboard"):
        response = Client().get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:sign-in"))
