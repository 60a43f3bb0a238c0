import logging

from celery import shared_task
from requests.exceptions import ConnectionError as NodeUnreachable
from requests.exceptions import Timeout as NodeTimeout

from synod.chain import services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def index_chain() -> None:
    """Beat runs this every few seconds; the cursor lease makes overlapping runs no-ops."""
    try:
        result = services.index_chain()
    except (NodeUnreachable, NodeTimeout) as exc:
        # A node that is down is waited out by the next beat, not reported as a crash.
        logger.warning("chain indexer: node unreachable (%s)", type(exc).__name__)
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
    except (NodeUnreachable, NodeTimeout) as exc:
        logger.warning("transaction sender: node unreachable (%s)", type(exc).__name__)
