from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from synod.common import views as common_views

urlpatterns = [
    path("", common_views.home, name="home"),
    path("status/panel", common_views.status_partial, name="status-panel"),
    path("healthz", common_views.healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
