from django.urls import path

from synod.registry import apis

urlpatterns = [
    path("models", apis.ModelListApi.as_view(), name="api-models"),
    path("datasets", apis.DatasetListApi.as_view(), name="api-datasets"),
]
