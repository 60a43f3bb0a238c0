from django.urls import path

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
]
