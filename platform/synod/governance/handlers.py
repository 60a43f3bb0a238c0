"""The governance mirror follows each council's events (see synod.chain.events)."""

from synod.chain.services import register_handler
from synod.governance import services
from synod.governance.actions import council_contract
from synod.governance.models import Council

for _council in Council.values:
    _contract = council_contract(_council)
    register_handler(_contract, "ProposalCreated", services.record_proposal_created,
                     undo=services.forget_proposal_created)  # fmt: skip
    register_handler(_contract, "VoteCast", services.record_vote, undo=services.forget_vote)
    register_handler(
        _contract, "VoteCastWithParams", services.record_vote, undo=services.forget_vote
    )
    register_handler(
        _contract, "ProposalQueued", services.record_queued, undo=services.forget_queued
    )
    register_handler(_contract, "ProposalExecuted", services.record_executed,
                     undo=services.forget_executed)  # fmt: skip
    register_handler(_contract, "ProposalCanceled", services.record_canceled,
                     undo=services.forget_canceled)  # fmt: skip
    register_handler(_contract, "ProposalExtended", services.record_extended)
