"""The KPI pages, under the product they belong to (included beside ``products.urls`` under /products/)."""

from django.urls import path

from . import views_kpis

app_name = "kpis"
urlpatterns = [
    path("<slug:slug>/kpis/", views_kpis.KPITreeView.as_view(), name="tree"),
    path("<slug:slug>/kpis/<int:pk>/", views_kpis.KPIDetailView.as_view(), name="detail"),
    path("<slug:slug>/kpis/<int:pk>/compute/", views_kpis.KPIComputeView.as_view(), name="compute"),
]
