from celery import shared_task

from synod.governance import services


@shared_task(ignore_result=True)
def refresh_proposal_states() -> int:
    return services.refresh_proposal_states()
