from django.contrib import admin

from synod.governance.models import Proposal, RelayedBallot, Vote


class VoteInline(admin.TabularInline):
    model = Vote
    extra = 0
    readonly_fields = ["voter", "support", "weight", "reason", "block_number", "tx_hash", "relayed"]
    can_delete = False


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "council",
        "kind",
        "state",
        "for_votes",
        "against_votes",
        "created_block",
    ]
    list_filter = ["council", "state", "kind"]
    search_fields = ["title", "proposal_id", "proposer"]
    inlines = [VoteInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the chain decides; the mirror is read-only here


@admin.register(RelayedBallot)
class RelayedBallotAdmin(admin.ModelAdmin):
    list_display = ["voter", "council", "proposal_id", "support", "status", "created_at"]
    list_filter = ["status", "council"]
