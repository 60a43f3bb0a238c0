import logging

from celery import shared_task

from synod.operations import demo


@shared_task(ignore_result=True)
def seed_demo() -> None:
    demo.seed_demo(progress=logging.getLogger("synod.demo").info)
