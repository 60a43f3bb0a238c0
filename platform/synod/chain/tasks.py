import logging

from celery import shared_task

from synod.chain import services
from synod.chain.errors import ChainUnavailable
from synod.chain.sender import recheck_mined

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def index_chain() -> None:
    """Beat runs this every few seconds, and `services.request_indexing` when someone waits
    for a transaction; the cursor lease makes overlapping runs no-ops."""
    try:
        result = services.index_chain()
    except ChainUnavailable as exc:
        # A node that is down is waited out by the next beat, not reported as a crash.
        logger.warning("chain indexer: %s", exc.reason)
        return
    if result.events or result.rewound_to is not None:
        logger.info(
            "indexed chain %s to block %s: %s events%s",
            result.chain_id,
            result.last_block,
            result.events,
            f", rewound to {result.rewound_to}" if result.rewound_to is not None else "",
        )


@shared_task(ignore_result=True)
def resend_unfinished_transactions() -> None:
    """Bring the outbox forward: re-broadcast transactions a crash or a node restart left
    unmined, replace those stuck below the going fee, then re-check recently mined ones
    (sent again when a reorg dropped their block, final once deep enough)."""
    try:
        services.resend_unfinished()
    except ChainUnavailable as exc:
        logger.warning("transaction sender: %s", exc.reason)
    try:
        result = recheck_mined()
    except ChainUnavailable as exc:
        logger.warning("transaction sender: %s", exc.reason)
        return
    if result.reorged:
        logger.warning(
            "transaction sender: %s mined transactions dropped by a reorg", result.reorged
        )
