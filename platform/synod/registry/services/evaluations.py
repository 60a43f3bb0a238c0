"""Evaluations: asked for (request), sent to a worker (send, requeue), taken by one worker
(claim) and run. A repeated request joins the work already queued, and a second delivery of
the same task finds it claimed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from synod.registry.compatibility import plan_feed
from synod.registry.errors import RegistryError, without_server_paths
from synod.registry.evaluation import EvaluationJob, evaluate
from synod.registry.models import (
    ACTIVE_EVALUATION_STATUSES,
    Dataset,
    Evaluation,
    EvaluationStatus,
    ModelVersion,
)
from synod.registry.onnx_inspect import TensorSpec
from synod.registry.storage import blob_name, local_copy, store_bytes

logger = logging.getLogger(__name__)

# A running evaluation whose worker died is taken over after this long.
EVALUATION_STALE_AFTER = timedelta(hours=1)
# A queued evaluation no worker has taken after this long is sent again (its message may never
# have reached the broker, e.g. during a broker restart). A second delivery is harmless: the
# first to claim the row runs it.
EVALUATION_REQUEUE_AFTER = timedelta(minutes=10)
PROGRESS_WRITE_INTERVAL_S = 0.25


def check_model_fits_dataset(*, model_version: ModelVersion, dataset: Dataset) -> None:
    """Raises IncompatibleModel with the reason when the model cannot read the dataset."""
    plan_feed(
        task=model_version.task,
        inputs=[TensorSpec.from_dict(spec) for spec in model_version.inputs],
        input_columns=dataset.input_columns,
        label_column=dataset.label_column,
        column_types=dataset.column_types,
        has_tokenizer=bool(model_version.tokenizer_sha256),
    )


def request_evaluation(
    *,
    model_version: ModelVersion,
    dataset: Dataset,
    requested_by: Any = None,
    rerun: bool = False,
    enqueue: bool = True,
) -> Evaluation:
    """Queue an evaluation of the pair, or return the one already finished or in flight.
    With enqueue=False the caller runs it itself (run_evaluation), as commands do."""
    check_model_fits_dataset(model_version=model_version, dataset=dataset)
    pair = Q(model_version=model_version, dataset=dataset)
    if not rerun:
        done = Evaluation.objects.filter(pair, status=EvaluationStatus.SUCCEEDED).first()
        if done is not None:
            return done
    active = Evaluation.objects.filter(pair, status__in=ACTIVE_EVALUATION_STATUSES).first()
    if active is not None:
        return active
    try:
        with transaction.atomic():
            evaluation = Evaluation.objects.create(
                model_version=model_version,
                dataset=dataset,
                rows_total=dataset.row_count,
                requested_by=requested_by,
            )
    except IntegrityError:
        # Another request queued the same pair between our check and insert.
        return Evaluation.objects.get(pair, status__in=ACTIVE_EVALUATION_STATUSES)

    if enqueue:
        transaction.on_commit(lambda: send_evaluation(evaluation.pk))
    return evaluation


def send_evaluation(evaluation_id: int) -> bool:
    """Queues the evaluation task. A broker that does not answer is no error for the person
    who asked: the row stays queued and requeue_stalled_evaluations sends it later."""
    from synod.registry import tasks  # deferred: tasks imports the services

    try:
        tasks.run_evaluation.delay(evaluation_id)
    except Exception as exc:
        logger.warning("evaluation %s not queued (%r); it will be sent again", evaluation_id, exc)
        return False
    return True


def requeue_stalled_evaluations() -> int:
    """Sends again the evaluations queued longer than EVALUATION_REQUEUE_AFTER and those
    whose run went stale (its worker died); returns how many were sent."""
    now = timezone.now()
    stalled = Evaluation.objects.filter(
        Q(status=EvaluationStatus.QUEUED, created_at__lt=now - EVALUATION_REQUEUE_AFTER)
        | Q(status=EvaluationStatus.RUNNING, started_at__lt=now - EVALUATION_STALE_AFTER)
    ).values_list("pk", flat=True)
    return sum(send_evaluation(evaluation_id) for evaluation_id in stalled)


def claim_evaluation(evaluation_id: int) -> bool:
    """Take a queued evaluation (or a stale run) for this worker; False when another has it
    or it has ended. One UPDATE, so two deliveries cannot both win."""
    stale_before = timezone.now() - EVALUATION_STALE_AFTER
    claimable = Q(status=EvaluationStatus.QUEUED) | Q(
        status=EvaluationStatus.RUNNING, started_at__lt=stale_before
    )
    claimed = Evaluation.objects.filter(claimable, pk=evaluation_id).update(
        status=EvaluationStatus.RUNNING, started_at=timezone.now(), rows_done=0, error=""
    )
    return claimed == 1


def _progress_writer(evaluation_id: int) -> Callable[[int, int], None]:
    last_write = 0.0

    def write(done: int, total: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        # At most a few writes a second: progress is for a person watching, not a log.
        if done < total and now - last_write < PROGRESS_WRITE_INTERVAL_S:
            return
        last_write = now
        Evaluation.objects.filter(pk=evaluation_id).update(rows_done=done, rows_total=total)

    return write


def _job(model: ModelVersion, dataset: Dataset, stack: ExitStack) -> EvaluationJob:
    """The evaluation's inputs, with local copies of the stored files that `stack` removes."""
    model_path = stack.enter_context(local_copy(model.storage_name))
    dataset_path = stack.enter_context(local_copy(dataset.storage_name))
    tokenizer_path = (
        stack.enter_context(local_copy(blob_name(model.tokenizer_sha256)))
        if model.tokenizer_sha256
        else None
    )
    return EvaluationJob(
        model_path=model_path,
        model_sha256=model.sha256,
        model_name=model.name,
        model_version=model.version,
        task=model.task,
        inputs=[TensorSpec.from_dict(spec) for spec in model.inputs],
        outputs=[TensorSpec.from_dict(spec) for spec in model.outputs],
        tokenizer_path=tokenizer_path,
        dataset_path=dataset_path,
        dataset_sha256=dataset.sha256,
        dataset_name=dataset.name,
        dataset_format=dataset.format,
        input_columns=dataset.input_columns,
        label_column=dataset.label_column,
        column_types=dataset.column_types,
        batch_size=settings.REGISTRY_EVAL_BATCH_SIZE,
        threads=settings.REGISTRY_EVAL_THREADS,
    )


def run_evaluation(*, evaluation_id: int) -> Evaluation:
    """Run a queued evaluation. A second delivery of the same task finds it claimed and
    returns it untouched."""
    if not claim_evaluation(evaluation_id):
        return Evaluation.objects.get(pk=evaluation_id)
    evaluation = Evaluation.objects.select_related("model_version", "dataset").get(pk=evaluation_id)
    model, dataset = evaluation.model_version, evaluation.dataset
    try:
        with ExitStack() as stack:
            outcome = evaluate(
                _job(model, dataset, stack), on_progress=_progress_writer(evaluation_id)
            )
    except Exception as exc:
        # The run ends as failed whatever went wrong; only a refusal's message is for people.
        message = str(exc) if isinstance(exc, RegistryError) else f"Internal error: {exc!r}"
        message = without_server_paths(message)
        Evaluation.objects.filter(pk=evaluation_id).update(
            status=EvaluationStatus.FAILED, error=message[:2000], finished_at=timezone.now()
        )
        if not isinstance(exc, RegistryError):
            logger.exception("evaluation %s failed", evaluation_id)
        return Evaluation.objects.get(pk=evaluation_id)

    report_sha256, report_name = store_bytes(outcome.report_bytes)
    Evaluation.objects.filter(pk=evaluation_id).update(
        status=EvaluationStatus.SUCCEEDED,
        rows_done=dataset.row_count,
        rows_total=dataset.row_count,
        execution_provider=outcome.execution_provider,
        metrics=outcome.metrics,
        metrics_sha256=outcome.metrics_sha256,
        timings=outcome.timings,
        report_sha256=report_sha256,
        report_storage_name=report_name,
        finished_at=timezone.now(),
    )
    return Evaluation.objects.get(pk=evaluation_id)
