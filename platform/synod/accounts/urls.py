from django.urls import path
from django.views.generic import RedirectView

from synod.accounts import views

app_name = "accounts"

urlpatterns = [
    path("auth/sign-in", views.sign_in_page, name="sign-in"),
    path("auth/nonce", views.nonce, name="nonce"),
    path("auth/siwe", views.siwe_sign_in, name="siwe"),
    path("auth/logout", views.sign_out, name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("account/api-keys/", views.api_keys, name="api-keys"),
    path("account/api-keys/<str:prefix>/revoke", views.revoke_api_key, name="revoke-api-key"),
    path("account/api-keys/<str:prefix>/cap", views.set_api_key_cap, name="api-key-cap"),
    # The tickets and provider pages live in their apps now (tickets:page, providers:page,
    # routed first). These two names only keep old links resolving (the dashboard's, some
    # tests'); delete them once nothing reverses accounts:tickets / accounts:provider.
    path("tickets/", RedirectView.as_view(pattern_name="tickets:page"), name="tickets"),
    path("provider/", RedirectView.as_view(pattern_name="providers:page"), name="provider"),
]
