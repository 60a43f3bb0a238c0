"""Registry pages under /registry/: lists, details, uploads, evaluations. Thin: forms in,
services and selectors for the work, templates out."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from synod.registry import selectors, services
from synod.registry.charts import latency_chart, metric_chart
from synod.registry.errors import RegistryError, UploadQuotaExceeded, UploadRateExceeded
from synod.registry.forms import DatasetUploadForm, EvaluationRequestForm, ModelUploadForm
from synod.registry.models import Dataset, ModelVersion
from synod.registry.storage import format_bytes

# Multipart framing around the file: a request this much over the limit is refused unread.
MULTIPART_OVERHEAD = 64 * 1024


def _too_large(request: HttpRequest, limit: int) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > limit + MULTIPART_OVERHEAD


def _dataset_choices() -> list[tuple[str, str]]:
    return [
        (dataset.sha256, f"{dataset.name} · {dataset.sha256[:12]}")
        for dataset in selectors.dataset_list()
    ]


def _done(request: HttpRequest, url: str) -> HttpResponse:
    """After an upload: htmx follows HX-Redirect; a plain form post a 303."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _dataset_or_404(sha256: str) -> Dataset:
    dataset = selectors.dataset_get(sha256)
    if dataset is None:
        raise Http404("No such dataset.")
    return dataset


def _model_or_404(sha256: str) -> ModelVersion:
    model = selectors.model_version_get(sha256)
    if model is None:
        raise Http404("No such model version.")
    return model


def _render_upload(
    request: HttpRequest, template: str, form, status: int = 200, error: str = ""
) -> HttpResponse:
    partial = "registry/_upload_form.html"
    usage = selectors.upload_usage(request.user)
    context = {
        "form": form,
        "action": request.path,
        "upload_error": error,
        "usage": usage,
        "stored": format_bytes(usage.stored_bytes),
        "quota": format_bytes(usage.quota_bytes),
    }
    if request.htmx:
        return render(request, partial, context, status=status)
    return render(request, template, context, status=status)


def _refused(request: HttpRequest, template: str, form, exc: RegistryError) -> HttpResponse:
    """The form again with the reason: on the form as a whole when the account is over a
    limit, on the file otherwise. 400 either way, the status htmx swaps in."""
    over_limit = isinstance(exc, (UploadRateExceeded, UploadQuotaExceeded))
    form.add_error(None if over_limit else "file", str(exc))
    response = _render_upload(request, template, form, status=400)
    if isinstance(exc, UploadRateExceeded):
        response["Retry-After"] = str(exc.retry_after_s)
    return response


@login_required
@require_GET
def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "registry/dataset_list.html", {"datasets": selectors.dataset_list()})


@login_required
@require_GET
def dataset_detail(request: HttpRequest, sha256: str) -> HttpResponse:
    dataset = _dataset_or_404(sha256)
    return render(
        request,
        "registry/dataset_detail.html",
        {
            "dataset": dataset,
            "size": format_bytes(dataset.size_bytes),
            "model_versions": dataset.model_versions.all(),
            "evaluations": dataset.evaluations.select_related("model_version")[:50],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def dataset_upload(request: HttpRequest) -> HttpResponse:
    template = "registry/dataset_upload.html"
    if request.method == "GET":
        return _render_upload(request, template, DatasetUploadForm())
    if _too_large(request, settings.REGISTRY_MAX_DATASET_BYTES):
        # Refused before reading the body: the form stays unbound.
        error = (
            f"The file is larger than the limit of "
            f"{format_bytes(settings.REGISTRY_MAX_DATASET_BYTES)}; nothing was stored."
        )
        return _render_upload(request, template, DatasetUploadForm(), status=400, error=error)
    form = DatasetUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_upload(request, template, form, status=400)
    data = form.cleaned_data
    try:
        result = services.upload_dataset(
            source=data["file"],
            filename=data["file"].name,
            name=data["name"],
            description=data["description"],
            input_columns=data["input_columns"],
            label_column=data["label_column"],
            fmt=data["format"] or None,
            uploaded_by=request.user,
        )
    except RegistryError as exc:
        return _refused(request, template, form, exc)
    (messages.success if result.created else messages.info)(request, result.message)
    return _done(request, reverse("registry:dataset-detail", args=[result.record.sha256]))


@login_required
@require_GET
def model_list(request: HttpRequest) -> HttpResponse:
    models = list(selectors.model_version_list())
    return render(
        request,
        "registry/model_list.html",
        {
            "models": models,
            "live": [model for model in models if model.is_live],
        },
    )


@login_required
@require_GET
def model_detail(request: HttpRequest, sha256: str) -> HttpResponse:
    model = _model_or_404(sha256)
    latest = selectors.latest_evaluation(model)
    return render(
        request,
        "registry/model_detail.html",
        {
            "model": model,
            "size": format_bytes(model.size_bytes),
            "evaluations": selectors.evaluations_for_model(model),
            "latest": latest,
            "headline": selectors.headline_metrics(latest),
            "evaluation_form": EvaluationRequestForm(
                initial={"dataset_sha256": model.dataset.sha256},
                dataset_choices=_dataset_choices(),
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def model_upload(request: HttpRequest) -> HttpResponse:
    template = "registry/model_upload.html"
    choices = _dataset_choices()
    if request.method == "GET":
        initial = {"dataset_sha256": request.GET.get("dataset", "")}
        return _render_upload(
            request, template, ModelUploadForm(initial=initial, dataset_choices=choices)
        )
    if _too_large(request, settings.REGISTRY_MAX_MODEL_BYTES):
        error = (
            f"The file is larger than the limit of "
            f"{format_bytes(settings.REGISTRY_MAX_MODEL_BYTES)}; nothing was stored."
        )
        form = ModelUploadForm(dataset_choices=choices)
        return _render_upload(request, template, form, status=400, error=error)
    form = ModelUploadForm(request.POST, request.FILES, dataset_choices=choices)
    if not form.is_valid():
        return _render_upload(request, template, form, status=400)
    data = form.cleaned_data
    try:
        result = services.upload_model(
            source=data["file"],
            filename=data["file"].name,
            name=data["name"],
            version=data["version"],
            task=data["task"],
            price_per_call=data["price_per_call"],
            dataset_sha256=data["dataset_sha256"],
            description=data["description"],
            tokenizer_source=data["tokenizer"],
            uploaded_by=request.user,
        )
    except RegistryError as exc:
        return _refused(request, template, form, exc)
    (messages.success if result.created else messages.info)(request, result.message)
    return _done(request, reverse("registry:model-detail", args=[result.record.sha256]))


@login_required
@require_GET
def model_compare(request: HttpRequest, name: str) -> HttpResponse:
    versions = selectors.model_version_list().filter(name=name)
    if not versions.exists():
        raise Http404("No model by that name.")
    return render(
        request,
        "registry/model_compare.html",
        {"name": name, "versions": versions, "comparisons": selectors.model_comparisons(name)},
    )


@login_required
@require_POST
def evaluation_request(request: HttpRequest, sha256: str) -> HttpResponse:
    model = _model_or_404(sha256)
    form = EvaluationRequestForm(request.POST, dataset_choices=_dataset_choices())
    if not form.is_valid():
        messages.error(request, "Choose a dataset to evaluate on.")
        return redirect("registry:model-detail", sha256=model.sha256)
    dataset = _dataset_or_404(form.cleaned_data["dataset_sha256"])
    try:
        evaluation = services.request_evaluation(
            model_version=model,
            dataset=dataset,
            requested_by=request.user,
            rerun=form.cleaned_data["rerun"],
        )
    except RegistryError as exc:
        messages.error(request, str(exc))
        return redirect("registry:model-detail", sha256=model.sha256)
    return redirect("registry:evaluation-detail", evaluation_id=evaluation.pk)


def _evaluation_or_404(evaluation_id: int):
    evaluation = selectors.evaluation_get(evaluation_id)
    if evaluation is None:
        raise Http404("No such evaluation.")
    return evaluation


@login_required
@require_GET
def evaluation_detail(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    evaluation = _evaluation_or_404(evaluation_id)
    report = selectors.evaluation_report(evaluation)
    context = {"evaluation": evaluation, "report": report}
    if report:
        context["metric_chart"] = metric_chart(evaluation.model_version.task, report["metrics"])
        context["latency_chart"] = latency_chart(report["timings"])
    return render(request, "registry/evaluation_detail.html", context)


@login_required
@require_GET
@never_cache
def evaluation_progress(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    """The progress panel htmx polls while the evaluation runs; once it ends, the page
    reloads to show the report."""
    evaluation = _evaluation_or_404(evaluation_id)
    response = render(request, "registry/_evaluation_progress.html", {"evaluation": evaluation})
    if not evaluation.is_active and request.htmx:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_GET
def evaluation_report_json(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    """The stored canonical report, byte for byte (its sha256 is the report hash)."""
    evaluation = _evaluation_or_404(evaluation_id)
    if not evaluation.report_storage_name:
        raise Http404("This evaluation has no report yet.")
    response = HttpResponse(
        selectors.evaluation_report_bytes(evaluation), content_type="application/json"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="evaluation-{evaluation.report_sha256}.json"'
    )
    return response
