from django.urls import path

from . import views, views_metrics

app_name = "catalog"
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("metrics/", views_metrics.MetricRegistryView.as_view(), name="metrics"),
]
