"""Refusals of the ticket ledger and settlement, in words meant for the person who asked.

Every class is an `ApplicationError` (synod.common.errors) with its HTTP status and a stable
`code`; the generic class mixed in gives the status."""

from __future__ import annotations

from synod.common import errors


class TicketsError(errors.ApplicationError):
    """Base class of the tickets app's refusals."""

    code = "tickets_refused"


class InvalidAmount(TicketsError, errors.InvalidInput):
    code = "invalid_amount"


class InsufficientTickets(TicketsError):
    """Not enough available tickets (deposit and spending allowance, less what is reserved
    and charged) for this call: HTTP 402 Payment Required."""

    status_code = 402
    code = "insufficient_tickets"


class KeyCapReached(InsufficientTickets):
    """The API key's own spending cap would be exceeded."""

    code = "api_key_cap_reached"


class IdempotencyKeyReused(TicketsError):
    """The Idempotency-Key was used before with a different request (RFC draft
    "The Idempotency-Key HTTP Header Field": 422)."""

    status_code = 422
    code = "idempotency_key_reused"


class CallInProgress(TicketsError, errors.Conflict):
    """A call with this Idempotency-Key is still running: retry later for its outcome."""

    code = "call_in_progress"


class InvalidCallReceipt(TicketsError, errors.InvalidInput):
    """The provider's receipt does not match the call or its signature does not verify:
    the call is not charged."""

    code = "invalid_receipt"


class CallNotFound(TicketsError, errors.NotFound):
    code = "call_not_found"


class NoProofs(TicketsError, errors.NotFound):
    """No settled receipts of this user in that batch."""

    code = "no_proofs"


class AllowanceRefused(TicketsError, errors.InvalidInput):
    """A spending allowance that cannot be sent as it is (bad signature, expiry, size)."""

    code = "allowance_refused"


class TicketTransactionRefused(TicketsError, errors.Conflict):
    """A ticket transaction the platform will not build: the contract would refuse it, or
    it would strand tickets the ledger still holds. Nothing was sent."""

    code = "ticket_transaction_refused"


class TicketAmountInvalid(InvalidAmount):
    """The amount itself is wrong (zero, dust, not a number)."""

    code = "invalid_amount"


class TicketContractsMissing(TicketsError, errors.Unavailable):
    code = "ticket_contracts_missing"
