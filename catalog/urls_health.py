"""The hub-wide health page, named ``health`` outside the catalog namespace (included by hub/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.HealthView.as_view(), name="health"),
]
