"""Accounts: a user is one Ethereum address, signed in with EIP-4361 (Sign-In with Ethereum).

Nobody has a password except staff created from the command line for the admin site.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from eth_utils import to_checksum_address
from rest_framework_api_key.models import AbstractAPIKey

ADDRESS_REGEX = r"^0x[0-9a-fA-F]{40}$"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, address: str, password: str | None = None, **extra) -> User:
        user = self.model(address=to_checksum_address(address), **extra)
        # Wallet users prove themselves by signature; a password would only be a weaker door.
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, address: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(address, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    # Always stored EIP-55 checksummed, so the unique constraint is case-exact and sufficient.
    address = models.CharField(max_length=42, unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "address"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(address__regex=ADDRESS_REGEX), name="accounts_user_address_format"
            ),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def short_address(self) -> str:
        return f"{self.address[:6]}…{self.address[-4:]}"


class SiweNonce(models.Model):
    """A sign-in nonce we issued. Consumed once, atomically, by the sign-in that uses it."""

    value = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="accounts_siwenonce_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return self.value


class UserAPIKey(AbstractAPIKey):
    """An API key for the public API. Only its hash is stored; the key is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)
    # A random value carried by the creation form: a resubmitted form cannot create a twin.
    client_token = models.CharField(max_length=64, blank=True, default="", editable=False)
    # The most tickets calls made with this key may spend (the metering ledger enforces it);
    # null: no cap of its own, only the account's on-chain spending allowance limits it.
    spending_cap_tickets = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "user API key"
        verbose_name_plural = "user API keys"
        indexes = [models.Index(fields=["user", "-created"], name="accounts_apikey_user_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_token"],
                condition=~Q(client_token=""),
                name="accounts_apikey_unique_client_token",
            ),
            models.CheckConstraint(
                condition=Q(spending_cap_tickets__isnull=True) | Q(spending_cap_tickets__gte=1),
                name="accounts_apikey_spending_cap_positive",
            ),
        ]

    @property
    def status(self) -> str:
        if self.revoked:
            return "revoked"
        if self.has_expired:
            return "expired"
        return "active"
