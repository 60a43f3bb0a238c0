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

from synod.tickets import selectors as ticket_selectors

logger = logging.getLogger(__name__)


def _earnings_context(address: str) -> dict:
    try:
        return {
            "earnings": ticket_selectors.provider_earnings(address),
            "claimable": ticket_selectors.claimable_credits(address),
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
    return render(request, "providers/page.html", _earnings_context(request.user.address))


@require_GET
@never_cache
@login_required
def earnings_partial(request: HttpRequest) -> HttpResponse:
    return render(request, "providers/_earnings.html", _earnings_context(request.user.address))
