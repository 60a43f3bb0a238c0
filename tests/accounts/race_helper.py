"""Run as a separate process by test_concurrency: one contender in a sign-in race.

    python -m tests.accounts.race_helper issue
    python -m tests.accounts.race_helper sign-in <message file> <signature> <go file>

Each contender sets Django up, says "ready", waits for the go file, then signs in and
prints one JSON line with the outcome.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import django


def main(argv: list[str]) -> None:
    django.setup()
    from synod.accounts import services
    from tests.accounts.siwe_helpers import TEST_HOST

    if argv[0] == "issue":
        print(services.issue_nonce().value, flush=True)
        return
    message_file, signature, go_file = argv[1:4]
    message = Path(message_file).read_text()
    site = services.SiteIdentity(scheme="http", host=TEST_HOST)
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while not Path(go_file).exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.002)
    try:
        user = services.sign_in_with_ethereum(message=message, signature=signature, site=site)
        outcome = {"ok": True, "address": user.address}
    except services.SignInRejected as exc:
        outcome = {"ok": False, "status": exc.status_code, "detail": exc.detail}
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
