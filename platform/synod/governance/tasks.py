from celery import shared_task

from synod.governance import services


@shared_task(ignore_result=True)
def refresh_proposal_states() -> int:
    """Beat runs this every few seconds: proposal states from the councils, and relayed
    ballots settled from the sender's outbox (the chain's resend task records receipts)."""
    services.settle_relayed_ballots()
    return services.refresh_proposal_states()
