"""Demo content for a fresh local platform: real models evaluated on real data, and a
governance round with proposals in different states. Local dev chains only."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from synod.chain import selectors as chain_selectors
from synod.chain import services as chain_services
from synod.governance import services as governance_services
from synod.registry import selectors as registry_selectors
from synod.registry import services as registry_services

Progress = Callable[[str], None]


def seed_demo(*, progress: Progress = lambda _: None) -> bool:
    """Idempotent. Returns False (and does nothing) away from a local dev chain."""
    if not chain_selectors.is_local_dev_chain():
        progress("not a local dev chain: no demo content")
        return False
    content = registry_services.build_demo_content(
        cache_dir=settings.REGISTRY_DEMO_CACHE_DIR, report=progress
    )
    iris = next(d for d in content.datasets if d.name.startswith("Iris"))
    logistic = next(m for m in content.models if m.version == "2.0-logistic")
    evaluation = registry_selectors.latest_evaluation(logistic)
    model = {
        "sha256": logistic.sha256,
        "name": logistic.name,
        "version": logistic.version,
        "task": logistic.task,
        "price_per_call": logistic.price_per_call,
        "dataset_sha256": iris.sha256,
        "report_sha256": evaluation.report_sha256,
    }
    governance_services.run_demo_round(dataset_sha256=iris.sha256, model=model, progress=progress)
    chain_services.index_chain()
    governance_services.refresh_proposal_states()
    progress("demo content ready")
    return True
