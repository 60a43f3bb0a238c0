"""Writes for accounts: sign-in nonces, Sign-In with Ethereum, API keys."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from eth_keys.exceptions import BadSignature
from siwe import ExpiredMessage, InvalidSignature, NotYetValidMessage, SiweMessage

from synod.accounts.errors import (
    AccountDisabled,
    ApiKeyConflict,
    ApiKeyRefused,
    NonceUnusable,
    SignatureMismatch,
    SignInMessageTooLong,
    SignInRejected,
)
from synod.accounts.models import SiweNonce, User, UserAPIKey
from synod.tickets.selectors import ticket_summary

NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_LENGTH = 24  # about 143 bits; EIP-4361 wants at least 8 alphanumerics
MAX_MESSAGE_CHARS = 2048
SIGNATURE_PATTERN = re.compile(r"^0x[0-9a-fA-F]{130}$")
# Browsers and wallets disagree a little about the time; a message from slightly ahead is fine.
CLOCK_SKEW = timedelta(minutes=2)
# Writing last_used_at on every call would turn every API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ACTIVE_API_KEYS = 25


@dataclass(frozen=True)
class SiteIdentity:
    """This site as the browser reached it: what a sign-in message must name."""

    scheme: str  # "http" or "https"
    host: str  # host[:port], already validated against ALLOWED_HOSTS by Django

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"


# --- Sign-In with Ethereum ------------------------------------------------------------------


def issue_nonce() -> SiweNonce:
    now = timezone.now()
    value = "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))
    return SiweNonce.objects.create(
        value=value, created_at=now, expires_at=now + timedelta(seconds=settings.SIWE_NONCE_TTL_S)
    )


def purge_expired_nonces(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Deletes nonces that can no longer be used. Returns how many were removed."""
    deleted, _ = SiweNonce.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted


def sign_in_with_ethereum(*, message: str, signature: str, site: SiteIdentity) -> User:
    """Verifies an EIP-4361 message and its signature; returns the signing address's user.

    The siwe package checks the signature, domain and times only. Here we also check that
    the message names this site (domain, scheme and URI origin) and the configured chain,
    that it carries a short expiration time, and that its nonce is one we issued, unused and
    unexpired. The nonce is consumed by a conditional UPDATE that must change exactly one
    row, so of two concurrent sign-ins with one nonce exactly one succeeds. The user is
    created on first sign-in, in the same transaction.
    """
    now = timezone.now()
    parsed = _parse_message(message, signature)
    _check_claims(parsed, site=site, now=now)
    try:
        parsed.verify(signature, domain=site.host, timestamp=now)
    except ExpiredMessage:
        raise SignInRejected("The sign-in message has expired; sign in again.") from None
    except NotYetValidMessage:
        raise SignInRejected("The sign-in message is not valid yet (Not Before).") from None
    except (InvalidSignature, BadSignature, ValueError):
        # eth_keys raises BadSignature (not caught by siwe) when r is not a curve point.
        raise SignatureMismatch("The signature does not match the message's address.") from None

    address = parsed.address  # EIP-55 checksummed: the parser refuses any other form
    with transaction.atomic():
        consumed = SiweNonce.objects.filter(
            value=parsed.nonce, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if consumed != 1:
            raise NonceUnusable(_why_nonce_unusable(parsed.nonce, now))
        # An unusable password: a wallet user can only ever sign in by signature.
        user, _ = User.objects.get_or_create(
            address=address, defaults={"password": make_password(None)}
        )
        if not user.is_active:
            # Raising inside the transaction also gives the nonce back.
            raise AccountDisabled("This account is disabled.")
    return user


def _parse_message(message: object, signature: object) -> SiweMessage:
    if not isinstance(message, str) or not isinstance(signature, str):
        raise SignInRejected("Send a JSON object with string fields `message` and `signature`.")
    if len(message) > MAX_MESSAGE_CHARS:
        raise SignInMessageTooLong(
            f"The sign-in message is longer than {MAX_MESSAGE_CHARS} characters."
        )
    if not SIGNATURE_PATTERN.match(signature):
        raise SignInRejected("The signature must be 65 bytes as 0x-prefixed hex.")
    try:
        parsed = SiweMessage.from_message(message)
    except (ValueError, TypeError):
        raise SignInRejected("The sign-in message is not a valid EIP-4361 message.") from None
    # The signature is checked against the canonical text; refusing anything else means the
    # user signed exactly the text that we verify.
    if parsed.prepare_message() != message:
        raise SignInRejected("The sign-in message is not in canonical EIP-4361 form.")
    return parsed


def _check_claims(parsed: SiweMessage, *, site: SiteIdentity, now: datetime) -> None:
    if parsed.domain != site.host:
        raise SignInRejected(f"The message is for {parsed.domain!r}, not this site ({site.host}).")
    if parsed.scheme is not None and parsed.scheme != site.scheme:
        raise SignInRejected(f"The message is for scheme {parsed.scheme!r}, not {site.scheme!r}.")
    uri = urlsplit(parsed.uri)
    if f"{uri.scheme}://{uri.netloc}" != site.origin:
        raise SignInRejected(f"The message URI {parsed.uri!r} is not on {site.origin}.")
    if parsed.chain_id != settings.CHAIN_ID:
        raise SignInRejected(
            f"The message is for chain {parsed.chain_id}; this site uses chain {settings.CHAIN_ID}."
        )
    if parsed.expiration_time is None:
        raise SignInRejected("The message must carry an Expiration Time.")
    issued_at = parsed.issued_at._datetime
    expires_at = parsed.expiration_time._datetime
    if issued_at > now + CLOCK_SKEW:
        raise SignInRejected("The message's Issued At lies in the future.")
    if expires_at <= now:
        raise SignInRejected("The sign-in message has expired; sign in again.")
    if expires_at - issued_at > timedelta(seconds=settings.SIWE_MAX_MESSAGE_LIFETIME_S):
        limit_min = settings.SIWE_MAX_MESSAGE_LIFETIME_S // 60
        raise SignInRejected(
            f"The message's Expiration Time is more than {limit_min} minutes after Issued At."
        )


def _why_nonce_unusable(value: str, now: datetime) -> str:
    nonce = SiweNonce.objects.filter(value=value).first()
    if nonce is None:
        return "This sign-in nonce was not issued by this site; fetch a new one."
    if nonce.used_at is not None:
        return "This sign-in nonce has already been used; fetch a new one."
    return "This sign-in nonce has expired; fetch a new one."


# --- API keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewApiKey:
    api_key: UserAPIKey
    secret: str  # the whole key, shown to its owner once and never stored


def create_api_key(
    *,
    user: User,
    name: str,
    expires_on: date | None = None,
    client_token: str | None = None,
    spending_cap_tickets: int | None = None,
) -> NewApiKey:
    """Creates a key for `user`; only its hash is stored.

    `client_token` is a random value the form carries, so a double-submitted form creates
    one key, not two: the second submission is refused with status 409.
    `spending_cap_tickets` (optional) is the most tickets calls with this key may spend; it
    may not exceed the account's spending allowance (see `set_api_key_spending_cap`).
    """
    name = name.strip()
    if not name:
        raise ApiKeyRefused("Give the key a name.", field="name")
    _check_spending_cap(user, spending_cap_tickets)
    expiry = None
    if expires_on is not None:
        if expires_on <= timezone.localdate():
            raise ApiKeyRefused("The expiry date must lie in the future.", field="expires_on")
        expiry = datetime.combine(
            expires_on, datetime.min.time(), tzinfo=timezone.get_default_timezone()
        )
    with transaction.atomic():
        # Locks the owner's row (PostgreSQL) so concurrent creations count the keys in turn;
        # SQLite's IMMEDIATE transactions already serialize writers.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if (
            client_token
            and UserAPIKey.objects.filter(user=user, client_token=client_token).exists()
        ):
            raise ApiKeyConflict("This form was already submitted: the key exists.")
        if active_key_count(user) >= MAX_ACTIVE_API_KEYS:
            raise ApiKeyConflict(f"You have {MAX_ACTIVE_API_KEYS} active keys; revoke one first.")
        try:
            with transaction.atomic():
                api_key, secret = UserAPIKey.objects.create_key(
                    user=user,
                    name=name,
                    expiry_date=expiry,
                    client_token=client_token or "",
                    spending_cap_tickets=spending_cap_tickets,
                )
        except IntegrityError:
            raise ApiKeyConflict("This form was already submitted: the key exists.") from None
    return NewApiKey(api_key=api_key, secret=secret)


def active_key_count(user: User) -> int:
    return (
        UserAPIKey.objects.filter(user=user, revoked=False)
        .filter(Q(expiry_date__isnull=True) | Q(expiry_date__gt=timezone.now()))
        .count()
    )


def revoke_api_key(*, user: User, prefix: str) -> bool:
    """Revokes the user's key with this prefix. Idempotent: True when it is (now) revoked,
    False when the user has no such key."""
    if UserAPIKey.objects.filter(user=user, prefix=prefix, revoked=False).update(revoked=True):
        return True
    return UserAPIKey.objects.filter(user=user, prefix=prefix).exists()


MAX_SPENDING_CAP_TICKETS = 2**63 - 1  # what a PositiveBigIntegerField holds everywhere


def _check_spending_cap(user: User, cap: int | None) -> None:
    """A key's cap is at least one ticket and, when the account has a spending allowance on
    chain, not above what is left of it (a cap above it could never be reached). Read before
    any database transaction: no node call while one is open. When the chain does not answer
    the cap is accepted: the ledger enforces both limits at every call anyway."""
    if cap is None:
        return
    if cap < 1:
        raise ApiKeyRefused(
            "A spending cap is at least one ticket; leave it empty for no cap.",
            field="spending_cap_tickets",
        )
    if cap > MAX_SPENDING_CAP_TICKETS:
        raise ApiKeyRefused(
            "That cap is larger than any ticket balance.", field="spending_cap_tickets"
        )
    try:
        summary = ticket_summary(user.address)
    except ConnectionError:
        return
    remaining, valid_until = summary.allowance_remaining, summary.allowance_valid_until
    if not remaining or valid_until is None or valid_until <= timezone.now():
        return  # no allowance in force: the cap is kept for when one is signed
    if cap > remaining:
        raise ApiKeyRefused(
            f"A key's spending cap must not exceed your spending allowance ({remaining} tickets "
            "left); lower the cap or raise the allowance first.",
            field="spending_cap_tickets",
        )


def set_api_key_spending_cap(*, user: User, prefix: str, cap: int | None) -> UserAPIKey | None:
    """Sets (or, with None, removes) the spending cap of the user's key with this prefix.
    Returns the key, or None when the user has no such key. Refuses (ApiKeyRefused) a cap
    below one ticket or above the account's spending allowance, and a revoked key."""
    api_key = UserAPIKey.objects.filter(user=user, prefix=prefix).first()
    if api_key is None:
        return None
    if api_key.revoked:
        raise ApiKeyRefused("This key is revoked; its cap no longer matters.")
    _check_spending_cap(user, cap)
    UserAPIKey.objects.filter(pk=api_key.pk).update(spending_cap_tickets=cap)
    api_key.spending_cap_tickets = cap
    return api_key


def record_api_key_use(api_key: UserAPIKey) -> None:
    now = timezone.now()
    UserAPIKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
