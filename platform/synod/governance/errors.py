"""Governance's refusals, under the one application error model (synod.common.errors): each
class says its HTTP status and a stable `code`; the handlers answer them, views never pick a
status by hand."""

from __future__ import annotations

from typing import Any

from synod.common.errors import ApplicationError


class GovernanceError(ApplicationError):
    """Base of governance's refusals."""

    status_code = 400
    code = "governance_error"


# --- Forms and proposals --------------------------------------------------------------------


class InvalidForm(GovernanceError):
    """A form of the governance pages did not validate: `errors` holds the messages per
    field ("__all__" for the form as a whole), which the page shows beside each field."""

    status_code = 400
    code = "invalid"

    def __init__(self, detail: str, *, errors: dict[str, list[str]]) -> None:
        super().__init__(detail)
        self.errors = errors

    def as_dict(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, "errors": self.errors}


class ProposalInputError(GovernanceError):
    """The proposal cannot be made as asked; the message says why, for a person, and
    `field` which input it is about ("" for the proposal as a whole)."""

    status_code = 400
    code = "invalid_proposal"

    def __init__(self, detail: str, *, field: str = "") -> None:
        super().__init__(detail, field=field)

    def as_dict(self) -> dict[str, Any]:
        # The page shows a refusal about no one field above the form ("__all__").
        return {"detail": self.detail, "code": self.code,
                "errors": {self.field or "__all__": [self.detail]}}  # fmt: skip


class UnknownProposalKind(GovernanceError):
    status_code = 404
    code = "unknown_proposal_kind"


class ProposerWithoutBadge(GovernanceError):
    """Only a council's badge holders may propose to it (the council would refuse anyone
    else's proposal on chain)."""

    status_code = 403
    code = "proposer_without_badge"


class ProposalNotFound(GovernanceError):
    status_code = 404
    code = "proposal_not_found"


class WrongProposalState(GovernanceError):
    """An operation (queue, execute) the proposal's state does not allow now."""

    status_code = 409
    code = "wrong_proposal_state"


class DemoRefused(GovernanceError):
    """The demo governance round cannot run here (not a local dev chain) or a step failed."""

    status_code = 409
    code = "demo_refused"


# --- Votes ------------------------------------------------------------------------------------


class VoteRefused(GovernanceError):
    """A vote or relay the platform will not send; the message says why, for a person.
    Nothing was sent and nothing is kept. Each reason is a subclass with its status."""

    status_code = 400
    code = "vote_refused"

    @property
    def status(self) -> int:
        """The HTTP status (the name callers used before statuses lived on the classes)."""
        return self.status_code


class InvalidBallot(VoteRefused):
    """The ballot itself is malformed (choice, reason, voter address, signature bytes)."""

    status_code = 400
    code = "invalid_ballot"


class VotingClosed(VoteRefused):
    status_code = 409
    code = "voting_closed"


class AlreadyVoted(VoteRefused):
    status_code = 409
    code = "already_voted"


class NoBadge(VoteRefused):
    """The voter held no badge of the council when voting opened (the vote's snapshot)."""

    status_code = 403
    code = "no_badge"


class StaleBallotNonce(VoteRefused):
    """Signed for a ballot nonce that is not the voter's current one."""

    status_code = 409
    code = "stale_ballot_nonce"


class WrongSigner(VoteRefused):
    """The signature is valid but not the voter's for this exact ballot."""

    status_code = 403
    code = "wrong_signer"


class CouncilRefusedVote(VoteRefused):
    """The council's estimate reverted: it would refuse the vote on chain."""

    status_code = 409
    code = "council_refused_vote"


class RelayInFlight(VoteRefused):
    """A relayed vote of this voter on this proposal is already on its way."""

    status_code = 409
    code = "relay_in_flight"


class RelayBudgetUsed(VoteRefused):
    status_code = 429
    code = "relay_budget_used"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class VoteNotSent(VoteRefused):
    """The platform could not send the vote (the node did not answer before signing):
    nothing was recorded, and trying again shortly may work."""

    status_code = 503
    code = "vote_not_sent"
