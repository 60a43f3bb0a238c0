"""The provider page: earnings (credited and claimed as indexed, claimable read from the
escrow on chain) and the claim.

The claim is a wallet transaction the tickets app builds (tickets:claim-call); this page
only shows the figures and hands the button to tickets.js. Onboarding and stake come with a
later issue.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from eth_utils import to_checksum_address

from synod.chain import selectors as chain_selectors
from synod.chain.errors import ArtifactMissing, ChainUnavailable, ContractNotDeployed
from synod.tickets import selectors as ticket_selectors

logger = logging.getLogger(__name__)


def _claimable_on_chain(address: str) -> int | None:
    """TicketEscrow.credits(address): what a claim would pay now; None when the escrow is
    not deployed. Raises ChainUnavailable (a ConnectionError) when the node does not answer."""
    try:
        escrow = chain_selectors.contract("TicketEscrow")
    except (ContractNotDeployed, ArtifactMissing):
        return None
    try:
        return escrow.functions.credits(to_checksum_address(address)).call()
    except ChainUnavailable:
        raise
    except Exception as exc:  # no code at the address, a node error: the chain is away
        raise ChainUnavailable(reason=f"credits read failed: {type(exc).__name__}") from exc


def _earnings_context(address: str) -> dict:
    try:
        return {
            "earnings": ticket_selectors.provider_earnings(address),
            "claimable": _claimable_on_chain(address),
            "chain_error": "",
        }
    except ConnectionError as exc:
        logger.info("provider earnings read failed for %s: %s", address, exc)
        return {
            "earnings": None,
            "chain_error": "The chain does not answer right now; earnings show again once it does.",
        }


@require_GET
@login_required
def provider_page(request: HttpRequest) -> HttpResponse:
    context = {**_earnings_context(request.user.address), "nav_section": "provider"}
    return render(request, "providers/page.html", context)


@require_GET
@never_cache
@login_required
def earnings_partial(request: HttpRequest) -> HttpResponse:
    return render(request, "providers/_earnings.html", _earnings_context(request.user.address))
