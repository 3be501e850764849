from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# Swagger UI's page carries one inline <style> block; allow inline styles on that page only.
# Its scripts are files (the "split" view), so script-src stays 'self'.
api_docs_view = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)


@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico on every page; the admin has no <link rel=icon>."""
    return redirect(static("img/favicon.svg"), permanent=True)


admin.site.site_header = "Lodestar administration"
admin.site.site_title = "Lodestar admin"
admin.site.index_title = "Products, people and permissions"

urlpatterns = [
    path("favicon.ico", favicon),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("hub.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs_view, name="api-docs"),
    path("products/", include("products.urls")),
    path("products/", include("quality.urls")),
    path("products/", include("quality.urls_dashboards")),
    path("products/", include("quality.urls_kpis")),
    path("health/", include("catalog.urls_health")),
    path("access/", include("access.urls")),
    path("", include("catalog.urls")),
]
