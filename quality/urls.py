"""The quality pages, under the product they belong to (included beside ``products.urls`` under /products/)."""

from django.urls import path

from . import views

app_name = "quality"
urlpatterns = [
    path("<slug:slug>/runs/<int:pk>/", views.CheckRunDetailView.as_view(), name="run"),
    path("<slug:slug>/incidents/<int:pk>/", views.IncidentDetailView.as_view(), name="incident"),
    path(
        "<slug:slug>/incidents/<int:pk>/acknowledge/",
        views.IncidentAcknowledgeView.as_view(),
        name="incident-acknowledge",
    ),
    path("<slug:slug>/incidents/<int:pk>/resolve/", views.IncidentResolveView.as_view(), name="incident-resolve"),
    path("<slug:slug>/outputs/<int:output>/run-now/", views.RunNowView.as_view(), name="run-now"),
    path("<slug:slug>/quality/", views.QualitySettingsView.as_view(), name="settings"),
    path("<slug:slug>/quality/outputs/<int:output>/checks/", views.CheckEditView.as_view(), name="checks"),
    path("<slug:slug>/quality/incidents/", views.IncidentSettingsView.as_view(), name="incident-settings"),
    path("<slug:slug>/quality/webhooks/", views.WebhookCreateView.as_view(), name="webhook-add"),
    path("<slug:slug>/quality/webhooks/<int:pk>/", views.WebhookToggleView.as_view(), name="webhook-toggle"),
    path("<slug:slug>/quality/webhooks/<int:pk>/delete/", views.WebhookDeleteView.as_view(), name="webhook-delete"),
]
