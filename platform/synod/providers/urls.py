from django.urls import path

from synod.providers import views

app_name = "providers"

urlpatterns = [
    path("provider/", views.provider_page, name="page"),
    path("provider/earnings", views.earnings_partial, name="earnings"),
]
