"""A product's dashboards (included beside ``products.urls`` under /products/)."""

from django.urls import path

from . import views_dashboards

app_name = "dashboards"
urlpatterns = [
    path("<slug:slug>/dashboards/", views_dashboards.DashboardListView.as_view(), name="list"),
    path("<slug:slug>/dashboards/<int:pk>/", views_dashboards.DashboardDetailView.as_view(), name="detail"),
]
