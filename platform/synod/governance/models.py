"""The chain mirror of council proposals and votes, written only by the event indexer's
handlers (governance/handlers.py) and refreshed from the councils' own views."""

from django.db import models


class Council(models.TextChoices):
    DATA = "data", "Data council"
    MODEL = "model", "Model council"
    COMPUTE = "compute", "Compute council"


class ProposalState(models.TextChoices):
    # The names and order of OpenZeppelin's IGovernor.ProposalState.
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    CANCELED = "canceled", "Canceled"
    DEFEATED = "defeated", "Defeated"
    SUCCEEDED = "succeeded", "Succeeded"
    QUEUED = "queued", "Queued"
    EXPIRED = "expired", "Expired"
    EXECUTED = "executed", "Executed"


FINAL_STATES = {ProposalState.CANCELED, ProposalState.DEFEATED, ProposalState.EXPIRED,
                ProposalState.EXECUTED}  # fmt: skip


class Proposal(models.Model):
    chain_id = models.PositiveBigIntegerField()
    council = models.CharField(max_length=16, choices=Council.choices)
    # A uint256 (the hash of the proposal's actions), kept as its decimal string.
    proposal_id = models.CharField(max_length=80)
    proposer = models.CharField(max_length=42, db_index=True)
    kind = models.CharField(max_length=40, db_index=True)
    title = models.CharField(max_length=300)
    description = models.TextField()
    targets = models.JSONField()
    values = models.JSONField()  # wei amounts as decimal strings
    calldatas = models.JSONField()  # 0x-hex
    actions = models.JSONField(default=list)  # decoded: [{contract, function, args, summary}]
    vote_start = models.PositiveBigIntegerField()  # block numbers (the badges' clock)
    vote_end = models.PositiveBigIntegerField()
    for_votes = models.PositiveBigIntegerField(default=0)
    against_votes = models.PositiveBigIntegerField(default=0)
    abstain_votes = models.PositiveBigIntegerField(default=0)
    quorum = models.PositiveBigIntegerField(null=True, blank=True)
    state = models.CharField(
        max_length=16, choices=ProposalState.choices, default=ProposalState.PENDING
    )
    state_block = models.PositiveBigIntegerField(default=0)  # block the state was read at
    eta = models.DateTimeField(null=True, blank=True)  # executable from (once queued)
    created_block = models.PositiveBigIntegerField()
    created_tx = models.CharField(max_length=66)
    created_at = models.DateTimeField()  # the creating block's timestamp
    queued_block = models.PositiveBigIntegerField(null=True, blank=True)
    executed_block = models.PositiveBigIntegerField(null=True, blank=True)
    executed_tx = models.CharField(max_length=66, blank=True)
    canceled_block = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_block", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "council", "proposal_id"], name="proposal_unique_per_council"
            )
        ]

    def __str__(self) -> str:
        return f"{self.council}#{self.proposal_id[:10]}… {self.title}"

    @property
    def total_votes(self) -> int:
        return self.for_votes + self.against_votes + self.abstain_votes


class VoteSupport(models.IntegerChoices):
    AGAINST = 0, "Against"
    FOR = 1, "For"
    ABSTAIN = 2, "Abstain"


class Vote(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=42, db_index=True)
    support = models.PositiveSmallIntegerField(choices=VoteSupport.choices)
    weight = models.PositiveBigIntegerField()
    reason = models.TextField(blank=True)
    block_number = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    relayed = models.BooleanField(default=False)

    class Meta:
        ordering = ["block_number", "log_index"]
        constraints = [
            # A Governor counts one vote per voter per proposal.
            models.UniqueConstraint(fields=["proposal", "voter"], name="vote_once_per_proposal")
        ]

    def __str__(self) -> str:
        return f"{self.voter} {self.get_support_display()} on {self.proposal_id}"


class RelayedBallot(models.Model):
    """A gasless vote: a badge holder's EIP-712 ballot, relayed by the platform's sender.

    A ballot the sender never sent (refused at estimate, could not be signed) is deleted at
    once. A saved one is PENDING while its transaction is in flight (even if its broadcast
    failed: the sender's resend task sends it), then MINED (confirmed; the indexer counts
    the vote), or FAILED (reverted, or dropped for good), with `error` in plain words. Only
    a FAILED ballot stops counting towards the relay budget and lets the voter try again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        MINED = "mined", "Confirmed"
        FAILED = "failed", "Failed"

    chain_id = models.PositiveBigIntegerField()
    council = models.CharField(max_length=16, choices=Council.choices)
    proposal_id = models.CharField(max_length=80)
    voter = models.CharField(max_length=42, db_index=True)
    support = models.PositiveSmallIntegerField(choices=VoteSupport.choices)
    reason = models.TextField(blank=True)
    signature = models.CharField(max_length=200)
    # The sender's idempotency key: it finds the outbox row even when the relay request
    # ended before it learnt the transaction hash.
    idempotency_key = models.CharField(max_length=200, blank=True)
    outgoing_tx_hash = models.CharField(max_length=66, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Relayed once per proposal and voter, even if two requests race; a failed
            # relay no longer counts, so the voter may sign and relay again.
            models.UniqueConstraint(
                fields=["chain_id", "council", "proposal_id", "voter"],
                condition=~models.Q(status="failed"),
                name="relay_once_per_proposal",
            )
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"relay {self.voter} on {self.council}#{self.proposal_id[:10]}… ({self.status})"

    @property
    def in_flight(self) -> bool:
        return self.status == self.Status.PENDING
