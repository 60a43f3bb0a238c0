import logging

from celery import shared_task

from synod.chain.errors import ChainUnavailable
from synod.tickets import services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def settle_usage() -> None:
    """Beat runs this every TICKETS_SETTLEMENT_INTERVAL_S: move the open settlement batch on,
    or seal and send a new one. Safe to overlap: one batch is open at a time."""
    try:
        run = services.run_settlement()
    except ChainUnavailable as exc:
        logger.warning("settlement: %s", exc.reason)
        return
    if run.batch is not None or run.waived:
        logger.info("settlement: %s (%s), %s waived", run.batch, run.action, run.waived)
