"""Registry pages under /registry/: lists, details, uploads, evaluations. Thin: forms in,
services and selectors for the work, templates out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from synod.registry import selectors, services
from synod.registry.charts import latency_chart, metric_chart
from synod.registry.errors import (
    RegistryError,
    UploadQuotaExceeded,
    UploadRateExceeded,
    UploadTooLarge,
)
from synod.registry.forms import DatasetUploadForm, EvaluationRequestForm, ModelUploadForm
from synod.registry.models import ApprovalKind, Dataset, Evaluation, ModelVersion
from synod.registry.storage import format_bytes


def _content_length(request: HttpRequest) -> int:
    """The request's declared length; 0 when it declares none (or nonsense), so that the
    file's own limit, counted as it is read, decides."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


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


# A refused upload form answers 400 whatever the refusal's own status (413, 422, 429): the
# page shows the form again with the reason, and htmx swaps in only 400/404/409/422 answers
# (base.html). The refusal's headers (Retry-After) still go with it.
REFUSED_FORM_STATUS = 400


def _refused(request: HttpRequest, template: str, form, exc: RegistryError) -> HttpResponse:
    """The form again with the reason: on the form as a whole when the account is over a
    limit, on the file otherwise."""
    over_limit = isinstance(exc, UploadRateExceeded | UploadQuotaExceeded)
    form.add_error(None if over_limit else "file", exc.detail)
    response = _render_upload(request, template, form, status=REFUSED_FORM_STATUS)
    for name, value in exc.headers().items():
        response[name] = value
    return response


def _refused_unread(request: HttpRequest, template: str, form, exc: UploadTooLarge) -> HttpResponse:
    """An empty form with the reason: the request was refused before its body was read."""
    return _render_upload(request, template, form, status=REFUSED_FORM_STATUS, error=exc.detail)


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
            "model_versions": selectors.model_versions_on_dataset(dataset),
            "evaluations": selectors.evaluations_on_dataset(dataset),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def dataset_upload(request: HttpRequest) -> HttpResponse:
    template = "registry/dataset_upload.html"
    if request.method == "GET":
        return _render_upload(request, template, DatasetUploadForm())
    try:
        services.check_request_length(_content_length(request), kind=ApprovalKind.DATASET)
    except UploadTooLarge as exc:
        # Refused before reading the body: the form stays unbound.
        return _refused_unread(request, template, DatasetUploadForm(), exc)
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
                dataset_choices=selectors.dataset_choices(),
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def model_upload(request: HttpRequest) -> HttpResponse:
    template = "registry/model_upload.html"
    choices = selectors.dataset_choices()
    if request.method == "GET":
        initial = {"dataset_sha256": request.GET.get("dataset", "")}
        return _render_upload(
            request, template, ModelUploadForm(initial=initial, dataset_choices=choices)
        )
    try:
        services.check_request_length(_content_length(request), kind=ApprovalKind.MODEL)
    except UploadTooLarge as exc:
        return _refused_unread(request, template, ModelUploadForm(dataset_choices=choices), exc)
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
    versions = selectors.model_versions_named(name)
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
    form = EvaluationRequestForm(request.POST, dataset_choices=selectors.dataset_choices())
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
        # Rendering, not a status: the model's page again, with the reason.
        messages.error(request, exc.detail)
        return redirect("registry:model-detail", sha256=model.sha256)
    return redirect("registry:evaluation-detail", evaluation_id=evaluation.pk)


def _evaluation_or_404(evaluation_id: int) -> Evaluation:
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
