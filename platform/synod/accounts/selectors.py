"""Reads for accounts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import QuerySet

from synod.accounts.models import User, UserAPIKey
from synod.governance.selectors import badges_of
from synod.tickets.selectors import TicketSummary, ticket_summary

logger = logging.getLogger(__name__)

MAX_BEARER_KEY_CHARS = 200


def api_keys_of(user: User) -> QuerySet[UserAPIKey]:
    return UserAPIKey.objects.filter(user=user).order_by("-created")


def api_key_for_secret(secret: str) -> UserAPIKey | None:
    """The key this secret belongs to, whatever its state; None for an unknown or wrong one.
    Its `spending_cap_tickets` (None: no cap of its own) is what the ledger holds its calls to.

    Looked up by its public prefix, then the secret is checked against the stored hash in
    constant time, so a prefix alone never identifies a usable key.
    """
    if len(secret) > MAX_BEARER_KEY_CHARS:
        return None
    prefix, dot, _ = secret.partition(".")
    if not dot or not prefix:
        return None
    api_key = UserAPIKey.objects.select_related("user").filter(prefix=prefix).first()
    if api_key is None:
        return None
    generator = UserAPIKey.objects.key_generator
    # The hasher is the library's own sha512 one: never the slow password hashers, which
    # would also try to upgrade (rewrite) the row on a read.
    if not generator.using_preferred_hasher(api_key.hashed_key):
        return None
    return api_key if generator.verify(secret, api_key.hashed_key) else None


@dataclass(frozen=True)
class ChainFigures:
    """What the dashboard shows from the chain; `error` says why the figures are missing."""

    badges: dict[str, bool | None] | None
    tickets: TicketSummary | None
    error: str = ""


def chain_figures(address: str) -> ChainFigures:
    """Badges and ticket figures for `address`; never raises for an unreachable chain."""
    try:
        tickets = ticket_summary(address)
        badges = badges_of(address)
    except ConnectionError as exc:
        logger.info("dashboard chain read failed for %s: %s", address, exc)
        return ChainFigures(None, None, "chain unreachable")
    return ChainFigures(badges, tickets)


@dataclass(frozen=True)
class TicketFigures:
    """The ticket summary (with the on-chain spending allowance) of the API keys page;
    `error` says why it is missing."""

    summary: TicketSummary | None
    error: str = ""


def ticket_figures(address: str) -> TicketFigures:
    """Never raises for an unreachable chain."""
    try:
        return TicketFigures(ticket_summary(address))
    except ConnectionError as exc:
        logger.info("ticket figures read failed for %s: %s", address, exc)
        return TicketFigures(None, "The chain does not answer right now.")


@dataclass(frozen=True)
class AccountOverview:
    """What the account API answers: whole-ticket figures are None when their contract is
    not deployed yet or the chain does not answer (then `chain_reachable` is False)."""

    address: str
    chain_reachable: bool
    tickets_wallet: int | None
    tickets_deposited: int | None
    tickets_reserved: int | None
    tickets_spent: int | None
    tickets_available: int | None


def account_overview(address: str) -> AccountOverview:
    """Never raises for an unreachable chain."""
    try:
        summary = ticket_summary(address)
    except ConnectionError as exc:
        logger.info("account chain read failed for %s: %s", address, exc)
        return AccountOverview(address, False, None, None, None, None, None)
    figures = ("wallet", "deposited", "reserved", "spent", "available")
    values = [getattr(summary, figure) if summary else None for figure in figures]
    return AccountOverview(address, True, *values)
