from celery import shared_task

from synod.registry import services


@shared_task(ignore_result=True, acks_late=True)
def run_evaluation(evaluation_id: int) -> None:
    """Evaluate a model version on a dataset; safe to deliver twice (the row is claimed)."""
    services.run_evaluation(evaluation_id=evaluation_id)


@shared_task(ignore_result=True)
def requeue_stalled_evaluations() -> None:
    services.requeue_stalled_evaluations()
