from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from synod.operations import views as operations_views

urlpatterns = [
    path("", operations_views.home, name="home"),
    path("status/panel", operations_views.status_partial, name="status-panel"),
    path("healthz", operations_views.healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("synod.accounts.api_urls")),
    path("api/v1/", include("synod.governance.api_urls")),
    path("api/v1/", include("synod.registry.api_urls")),
    path("registry/", include("synod.registry.urls")),
    path("governance/", include("synod.governance.urls")),
    path("", include("synod.tickets.urls")),
    path("", include("synod.providers.urls")),
    path("", include("synod.accounts.urls")),
    path("admin/", admin.site.urls),
]

# Friendly pages (JSON under the API paths) instead of Django's; debug pages only with DEBUG on.
handler400 = "synod.common.views.bad_request"
handler403 = "synod.common.views.permission_denied"
handler404 = "synod.common.views.page_not_found"
handler500 = "synod.common.views.server_error"
