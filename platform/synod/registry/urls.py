from django.urls import path

from synod.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.model_list, name="model-list"),
    path("models/", views.model_list, name="models"),
    path("models/upload", views.model_upload, name="model-upload"),
    path("models/compare/<str:name>", views.model_compare, name="model-compare"),
    path("models/<str:sha256>", views.model_detail, name="model-detail"),
    path("models/<str:sha256>/evaluate", views.evaluation_request, name="evaluation-request"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/upload", views.dataset_upload, name="dataset-upload"),
    path("datasets/<str:sha256>", views.dataset_detail, name="dataset-detail"),
    path("evaluations/<int:evaluation_id>", views.evaluation_detail, name="evaluation-detail"),
    path(
        "evaluations/<int:evaluation_id>/progress",
        views.evaluation_progress,
        name="evaluation-progress",
    ),
    path(
        "evaluations/<int:evaluation_id>/report.json",
        views.evaluation_report_json,
        name="evaluation-report",
    ),
]
