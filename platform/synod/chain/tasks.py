import logging

from celery import shared_task

from synod.chain import services
from synod.chain.errors import ChainUnavailable

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
    """Re-broadcast outbox transactions a crash or a node restart left unmined."""
    try:
        services.resend_unfinished()
    except ChainUnavailable as exc:
        logger.warning("transaction sender: %s", exc.reason)
