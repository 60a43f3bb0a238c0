from django.urls import path

from synod.accounts import apis

urlpatterns = [
    path("account", apis.AccountApi.as_view(), name="api-account"),
]
