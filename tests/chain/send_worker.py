"""A second platform process for the sender tests: buys one ticket per idempotency key from
several threads at once. Run with DATABASE_URL and CHAIN_RPC_URL of the test."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import django


def main(prefix: str, count: int, ticket_address: str, price: int) -> None:
    django.setup()
    from django.db import connection

    from synod.chain.bindings import encode_call
    from synod.chain.sender import send_transaction

    calldata = encode_call("PromptTicket", "buy")

    def buy(index: int) -> int:
        try:
            outgoing = send_transaction(
                idempotency_key=f"{prefix}-{index}",
                to=ticket_address,
                data=calldata,
                value=price,
                purpose="concurrency test",
            )
            return outgoing.nonce
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=5) as pool:
        nonces = list(pool.map(buy, range(count)))
    print(" ".join(map(str, sorted(nonces))))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
