from celery import shared_task

from synod.accounts import services


@shared_task(ignore_result=True)
def purge_expired_nonces() -> int:
    return services.purge_expired_nonces()
