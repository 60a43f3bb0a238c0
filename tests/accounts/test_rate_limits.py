"""API rate limits that hold: per user across all of their keys, per client address without a
key, and a stricter per-address limit on failed authentication (bad, revoked or missing keys),
answered 429 with Retry-After like any other limit."""

from __future__ import annotations

import pytest
from django.test import Client

from synod.accounts import services
from synod.accounts.models import User
from synod.common import throttles

pytestmark = pytest.mark.django_db

ACCOUNT_URL = "/api/v1/account"
MODELS_URL = "/api/v1/models"
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
UNKNOWN_KEY = "AbCdEfGh.not-the-secret-of-any-key-at-all"


@pytest.fixture
def user() -> User:
    return User.objects.create_user(ADDRESS)


@pytest.fixture
def rates(settings):
    """Small limits, so a test reaches them in a few requests."""

    def set_rates(**rates: str) -> None:
        settings.SYNOD_THROTTLE_RATES = {
            **settings.SYNOD_THROTTLE_RATES,
            **{scope.replace("_", "-"): rate for scope, rate in rates.items()},
        }

    return set_rates


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def assert_throttled(response, *, retry_after: int) -> None:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(retry_after)
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail", "code"}
    assert f"{retry_after} seconds" in response.json()["detail"]


# The frozen clock stands 20 s into its minute: a limit resets in 40 s.
RETRY_AFTER = 40


def test_unknown_keys_end_in_429_with_retry_after(user, rates, frozen_rate_window):
    rates(api_auth_failure="3/minute")
    client = Client()
    for _ in range(3):
        assert client.get(ACCOUNT_URL, **bearer(UNKNOWN_KEY)).status_code == 403
    assert_throttled(client.get(ACCOUNT_URL, **bearer(UNKNOWN_KEY)), retry_after=RETRY_AFTER)
    # Public endpoints check a key that is sent, and refuse it the same way.
    assert_throttled(client.get(MODELS_URL, **bearer(UNKNOWN_KEY)), retry_after=RETRY_AFTER)


def test_the_default_failure_limit_stops_a_flood_of_bad_keys(user, frozen_rate_window):
    client = Client()
    statuses = [client.get(ACCOUNT_URL, **bearer(UNKNOWN_KEY)).status_code for _ in range(100)]
    assert statuses == [403] * 60 + [429] * 40


def test_over_the_failure_limit_even_a_valid_key_waits(user, rates, frozen_rate_window):
    """Over the limit the key is not even looked at: a guess that happens to be right is
    indistinguishable from a wrong one until the window ends."""
    rates(api_auth_failure="2/minute")
    valid = services.create_api_key(user=user, name="laptop").secret
    client = Client()
    for _ in range(3):
        client.get(ACCOUNT_URL, **bearer(UNKNOWN_KEY))
    assert_throttled(client.get(ACCOUNT_URL, **bearer(valid)), retry_after=RETRY_AFTER)
    # Another client address has its own allowance.
    assert client.get(ACCOUNT_URL, REMOTE_ADDR="10.0.0.9", **bearer(valid)).status_code == 200


def test_a_revoked_key_ends_in_429(user, rates, frozen_rate_window):
    rates(api_auth_failure="2/minute")
    created = services.create_api_key(user=user, name="laptop")
    services.revoke_api_key(user=user, prefix=created.api_key.prefix)
    client = Client()
    for _ in range(2):
        response = client.get(ACCOUNT_URL, **bearer(created.secret))
        assert response.status_code == 403
        assert "revoked" in response.json()["detail"]
    assert_throttled(client.get(ACCOUNT_URL, **bearer(created.secret)), retry_after=RETRY_AFTER)


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer a b", "Bearer " + "x" * 300], ids=["empty", "two", "long"]
)
def test_malformed_keys_count_as_failures(user, rates, frozen_rate_window, header):
    rates(api_auth_failure="1/minute")
    client = Client()
    assert client.get(ACCOUNT_URL, HTTP_AUTHORIZATION=header).status_code == 403
    assert client.get(ACCOUNT_URL, HTTP_AUTHORIZATION=header).status_code == 429


def test_no_key_where_one_is_needed_ends_in_429(rates, frozen_rate_window):
    rates(api_auth_failure="2/minute")
    client = Client()
    for _ in range(2):
        response = client.get(ACCOUNT_URL)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert_throttled(client.get(ACCOUNT_URL), retry_after=RETRY_AFTER)


def test_all_keys_of_a_user_share_one_limit(user, rates, frozen_rate_window):
    rates(api="3/minute")
    first = services.create_api_key(user=user, name="one").secret
    second = services.create_api_key(user=user, name="two").secret
    client = Client()
    assert client.get(ACCOUNT_URL, **bearer(first)).status_code == 200
    assert client.get(ACCOUNT_URL, **bearer(second)).status_code == 200
    assert client.get(MODELS_URL, **bearer(first)).status_code == 200
    assert_throttled(client.get(ACCOUNT_URL, **bearer(second)), retry_after=RETRY_AFTER)
    assert_throttled(client.get(ACCOUNT_URL, **bearer(first)), retry_after=RETRY_AFTER)
    # A key created now joins the same, spent, allowance.
    third = services.create_api_key(user=user, name="three").secret
    assert_throttled(client.get(ACCOUNT_URL, **bearer(third)), retry_after=RETRY_AFTER)


def test_another_users_limit_is_unaffected(user, rates, frozen_rate_window):
    rates(api="2/minute")
    mine = services.create_api_key(user=user, name="mine").secret
    theirs = services.create_api_key(
        user=User.objects.create_user(OTHER_ADDRESS), name="theirs"
    ).secret
    client = Client()  # the same client address for both users
    for _ in range(2):
        assert client.get(ACCOUNT_URL, **bearer(mine)).status_code == 200
    assert client.get(ACCOUNT_URL, **bearer(mine)).status_code == 429
    assert client.get(ACCOUNT_URL, **bearer(theirs)).status_code == 200
    assert client.get(ACCOUNT_URL, **bearer(theirs)).status_code == 200
    assert client.get(ACCOUNT_URL, **bearer(theirs)).status_code == 429


def test_requests_without_a_key_are_limited_per_client_address(user, rates, frozen_rate_window):
    rates(api="2/minute")
    client = Client()
    for _ in range(2):
        assert client.get(MODELS_URL).status_code == 200
    assert_throttled(client.get(MODELS_URL), retry_after=RETRY_AFTER)
    assert client.get(MODELS_URL, REMOTE_ADDR="10.0.0.9").status_code == 200
    # A user's own allowance is not the address's.
    valid = services.create_api_key(user=user, name="laptop").secret
    assert client.get(MODELS_URL, **bearer(valid)).status_code == 200


def test_a_window_ends_and_the_allowance_returns(rates):
    rates(api_auth_failure="2/minute")
    start = 60 * 1_000 + 59.5
    for _ in range(2):
        assert throttles.seconds_until_allowed("api-auth-failure", "ip:a", now=start) is None
    assert throttles.seconds_until_allowed("api-auth-failure", "ip:a", now=start) == 1
    assert throttles.seconds_blocked("api-auth-failure", "ip:a", now=start) == 1
    # Peeking never counts.
    assert throttles.seconds_blocked("api-auth-failure", "ip:b", now=start) is None
    assert throttles.seconds_until_allowed("api-auth-failure", "ip:b", now=start) is None
    next_window = start + 1
    assert throttles.seconds_blocked("api-auth-failure", "ip:a", now=next_window) is None
    assert throttles.seconds_until_allowed("api-auth-failure", "ip:a", now=next_window) is None
