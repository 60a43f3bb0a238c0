"""A platform process for the PostgreSQL race test: funds one user for N calls, then fires
4N reserve-and-charge attempts from many threads at once (one connection each), and prints
what happened as JSON. Run with DATABASE_URL of a migrated database."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import django


def main(calls_covered: int) -> None:
    django.setup()
    from django.db import connection

    from synod.tickets import errors, services
    from synod.tickets.models import MeteredCall, TicketAccount
    from synod.tickets.services import ledger
    from tests.tickets.ledger_helpers import DOMAIN, MODEL, PROVIDER, USER, fund, receipt_for

    # Receipts are checked in a fixed domain: this process has no chain.
    ledger.receipt_domain = lambda: DOMAIN
    fund(USER, deposit=calls_covered)

    def attempt(_: int) -> str:
        try:
            reservation = services.reserve_call(
                address=USER, model_hash=MODEL, price=1, provider=PROVIDER
            )
            services.charge_call(
                call_id=reservation.call_id, signed_receipt=receipt_for(reservation)
            )
            return "charged"
        except errors.InsufficientTickets:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(4 * calls_covered)))
    account = TicketAccount.objects.get(address=USER)
    print(json.dumps({
        "charged": outcomes.count("charged"),
        "refused": outcomes.count("refused"),
        "rows_charged": MeteredCall.objects.filter(status="charged").count(),
        "account": [account.reserved, account.charged, account.deposited],
        "vendor": connection.vendor,
    }))  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]))
