"""Sign-In with Ethereum: every refusal is a clear 4xx and leaves nothing behind."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from eth_account import Account

from synod.accounts import services
from synod.accounts.models import SiweNonce, User
from tests.accounts.siwe_helpers import (
    TEST_HOST,
    build_message,
    dev_account,
    sign,
)

pytestmark = pytest.mark.django_db

SITE = services.SiteIdentity(scheme="http", host=TEST_HOST)


def fresh_nonce() -> str:
    return services.issue_nonce().value


def signed_in_address(message: str, signature: str) -> str:
    return services.sign_in_with_ethereum(message=message, signature=signature, site=SITE).address


def assert_rejected(message, signature, *, status: int, says: str) -> None:
    users_before = User.objects.count()
    unused_before = SiweNonce.objects.filter(used_at__isnull=True).count()
    with pytest.raises(services.SignInRejected) as caught:
        services.sign_in_with_ethereum(message=message, signature=signature, site=SITE)
    assert caught.value.status_code == status
    assert says.lower() in caught.value.detail.lower()
    assert User.objects.count() == users_before
    assert SiweNonce.objects.filter(used_at__isnull=True).count() == unused_before


def test_valid_sign_in_creates_one_user_per_checksummed_address():
    account = dev_account()
    for _ in range(2):
        message = build_message(address=account.address, nonce=fresh_nonce())
        assert signed_in_address(message, sign(message, account)) == account.address
    assert list(User.objects.values_list("address", flat=True)) == [account.address]
    user = User.objects.get()
    assert not user.has_usable_password()
    assert SiweNonce.objects.filter(used_at__isnull=False).count() == 2


def test_replayed_nonce_is_refused():
    account = dev_account()
    message = build_message(address=account.address, nonce=fresh_nonce())
    signature = sign(message, account)
    signed_in_address(message, signature)
    assert_rejected(message, signature, status=403, says="already been used")


def test_unknown_nonce_is_refused():
    account = dev_account()
    message = build_message(address=account.address, nonce="NotIssuedByUs12345")
    assert_rejected(message, sign(message, account), status=403, says="not issued by this site")


def test_expired_nonce_is_refused():
    account = dev_account()
    nonce = services.issue_nonce()
    SiweNonce.objects.filter(pk=nonce.pk).update(
        created_at=timezone.now() - timedelta(minutes=20),
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    message = build_message(address=account.address, nonce=nonce.value)
    assert_rejected(message, sign(message, account), status=403, says="nonce has expired")


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"domain": "evil.example"}, "not this site"),
        ({"domain": "testserver:8000"}, "not this site"),
        ({"uri": "https://evil.example/"}, "is not on http://testserver"),
        ({"uri": "https://testserver/"}, "is not on http://testserver"),
        ({"chain_id": 1}, "this site uses chain 31337"),
        ({"lifetime": None}, "must carry an expiration time"),
        ({"lifetime": timedelta(minutes=16)}, "more than 15 minutes"),
        (
            {"issued_at": datetime.now(UTC) - timedelta(minutes=11)},
            "expired",
        ),
        ({"issued_at": datetime.now(UTC) + timedelta(minutes=5)}, "in the future"),
    ],
    ids=[
        "wrong-domain",
        "domain-with-other-port",
        "wrong-uri",
        "uri-other-scheme",
        "wrong-chain",
        "no-expiration",
        "expiration-too-far",
        "expiration-past",
        "issued-in-future",
    ],
)
def test_message_claims_that_do_not_fit_this_site_are_refused(overrides, says):
    account = dev_account()
    message = build_message(address=account.address, nonce=fresh_nonce(), **overrides)
    assert_rejected(message, sign(message, account), status=400, says=says)


def test_bad_signature_is_refused():
    account = dev_account()
    message = build_message(address=account.address, nonce=fresh_nonce())
    signature = sign(message, account)
    # Flip one byte of r: still well-formed hex, no longer this message's signature.
    tampered = signature[:10] + ("0" if signature[10] != "0" else "1") + signature[11:]
    assert_rejected(message, tampered, status=401, says="does not match")


def test_signature_of_another_address_is_refused():
    claimed, signer = dev_account(0), dev_account(1)
    message = build_message(address=claimed.address, nonce=fresh_nonce())
    assert_rejected(message, sign(message, signer), status=401, says="does not match")


def test_signature_over_another_message_is_refused():
    account = dev_account()
    message = build_message(address=account.address, nonce=fresh_nonce())
    other = build_message(address=account.address, nonce=fresh_nonce())
    assert_rejected(message, sign(other, account), status=401, says="does not match")


@pytest.mark.parametrize(
    "message",
    [
        "hello",
        "",
        "testserver wants you to sign in with your Ethereum account:\n0x123\n\nURI: x",
    ],
    ids=["garbage", "empty", "truncated"],
)
def test_malformed_message_is_refused(message):
    assert_rejected(message, "0x" + "11" * 65, status=400, says="not a valid EIP-4361")


def test_lower_case_address_is_refused():
    account = dev_account()
    message = build_message(address=account.address, nonce=fresh_nonce())
    lowered = message.replace(account.address, account.address.lower())
    assert_rejected(lowered, sign(lowered, account), status=400, says="not a valid EIP-4361")


def test_non_canonical_layout_is_refused():
    account = dev_account()
    # The parser reads "031337" as 31337, but the canonical text says "31337".
    message = build_message(address=account.address, nonce=fresh_nonce()).replace(
        "Chain ID: 31337", "Chain ID: 031337"
    )
    assert_rejected(message, sign(message, account), status=400, says="canonical")


@pytest.mark.parametrize(
    "signature", ["0x1234", "not hex at all", "0x" + "zz" * 65, "0x" + "11" * 66], ids=str
)
def test_malformed_signature_is_refused(signature):
    account = dev_account()
    message = build_message(address=account.address, nonce=fresh_nonce())
    assert_rejected(message, signature, status=400, says="65 bytes")


def test_oversized_message_is_refused():
    account = dev_account()
    message = build_message(address=account.address, nonce=fresh_nonce(), statement="x" * 3000)
    assert_rejected(message, sign(message, account), status=413, says="longer than")


def test_non_string_fields_are_refused():
    assert_rejected(None, None, status=400, says="string fields")
    assert_rejected(["a"], {"b": 1}, status=400, says="string fields")


def test_disabled_user_is_refused_and_keeps_the_nonce():
    account = dev_account()
    User.objects.create_user(account.address, is_active=False)
    nonce = fresh_nonce()
    message = build_message(address=account.address, nonce=nonce)
    assert_rejected(message, sign(message, account), status=403, says="disabled")
    assert SiweNonce.objects.get(value=nonce).used_at is None


def test_purge_removes_only_long_expired_nonces():
    keep = services.issue_nonce()
    old = services.issue_nonce()
    SiweNonce.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=3),
        expires_at=timezone.now() - timedelta(hours=2),
    )
    assert services.purge_expired_nonces() == 1
    assert list(SiweNonce.objects.values_list("pk", flat=True)) == [keep.pk]


# --- Over HTTP --------------------------------------------------------------------------------


def post_sign_in(client: Client, payload, **extra):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(reverse("accounts:siwe"), body, content_type="application/json", **extra)


def http_sign_in(client: Client, account=None, next_url: str | None = None):
    account = account or dev_account()
    issued = client.get(reverse("accounts:nonce"), {"address": account.address.lower()}).json()
    assert issued["address"] == account.address  # checksummed for the message
    message = build_message(address=issued["address"], nonce=issued["nonce"])
    payload = {"message": message, "signature": sign(message, account)}
    if next_url is not None:
        payload["next"] = next_url
    return post_sign_in(client, payload)


def test_nonce_endpoint_issues_single_nonces():
    client = Client()
    first = client.get(reverse("accounts:nonce")).json()
    second = client.get(reverse("accounts:nonce")).json()
    assert first["nonce"] != second["nonce"]
    assert first["nonce"].isalnum() and len(first["nonce"]) >= 16
    assert first["chain_id"] == 31337
    assert SiweNonce.objects.count() == 2


def test_nonce_endpoint_refuses_a_bad_address_and_creates_nothing():
    response = Client().get(reverse("accounts:nonce"), {"address": "0xnothex"})
    assert response.status_code == 400
    assert "address" in response.json()["detail"]
    assert SiweNonce.objects.count() == 0


def test_sign_in_rotates_the_session_and_sign_out_flushes_it():
    client = Client()
    client.get(reverse("accounts:sign-in"))
    session = client.session
    session["planted"] = "by someone else"
    session.save()
    planted_key = session.session_key

    response = http_sign_in(client)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "address": dev_account().address,
        "redirect": reverse("accounts:dashboard"),
    }
    signed_in_key = client.cookies["sessionid"].value
    assert signed_in_key != planted_key
    assert not Session.objects.filter(session_key=planted_key).exists()

    dashboard = client.get(reverse("accounts:dashboard"))
    assert dashboard.status_code == 200
    assert dev_account().address in dashboard.content.decode()

    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=signed_in_key).exists()
    assert client.get(reverse("accounts:dashboard")).status_code == 302


def test_sign_in_follows_a_safe_next_only():
    assert http_sign_in(Client(), next_url="/account/api-keys/").json()["redirect"] == (
        "/account/api-keys/"
    )
    assert http_sign_in(Client(), next_url="https://evil.example/").json()["redirect"] == (
        reverse("accounts:dashboard")
    )


def test_sign_in_refusals_are_json_with_detail():
    client = Client()
    assert post_sign_in(client, "not json").status_code == 400
    assert post_sign_in(client, "[1, 2]").json()["detail"] == (
        "The request body must be a JSON object."
    )
    too_big = post_sign_in(client, {"message": "x" * 9000, "signature": "0x"})
    assert too_big.status_code == 413
    assert "too large" in too_big.json()["detail"]
    account = Account.create()
    message = build_message(address=account.address, nonce="NeverIssued123456")
    refused = post_sign_in(client, {"message": message, "signature": sign(message, account)})
    assert refused.status_code == 403
    assert "not issued" in refused.json()["detail"]
    assert User.objects.count() == 0
    assert "_auth_user_id" not in client.session


def test_sign_in_needs_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("accounts:sign-in"))
    account = dev_account()
    issued = client.get(reverse("accounts:nonce"), {"address": account.address}).json()
    message = build_message(address=account.address, nonce=issued["nonce"])
    payload = {"message": message, "signature": sign(message, account)}

    refused = post_sign_in(client, payload)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert User.objects.count() == 0

    token = page.context["csrf_token"]
    assert post_sign_in(client, payload, HTTP_X_CSRFTOKEN=str(token)).status_code == 200


def test_sign_in_needs_post():
    assert Client().get(reverse("accounts:siwe")).status_code == 405
    assert Client().get(reverse("accounts:logout")).status_code == 405
