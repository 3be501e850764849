from django.urls import path

from . import delivery, views, views_data, views_edit, views_history, views_lifecycle, views_spec

app_name = "products"
urlpatterns = [
    path("new/", views_edit.ProductCreateView.as_view(), name="create"),
    path("<slug:slug>/", views.DataProductDetailView.as_view(), name="detail"),
    path("<slug:slug>/edit/", views_edit.ProductEditView.as_view(), name="edit"),
    path("<slug:slug>/spec/", views_spec.SpecEditView.as_view(), name="spec"),
    path("<slug:slug>/spec.yaml", views_spec.SpecDownloadView.as_view(), name="spec-download"),
    path("<slug:slug>/edit/<str:section>/", views_edit.ProductSectionEditView.as_view(), name="edit-section"),
    path("<slug:slug>/delete/", views_edit.ProductDeleteView.as_view(), name="delete"),
    path("<slug:slug>/history/", views_history.HistoryView.as_view(), name="history"),
    path("<slug:slug>/history/<int:number>/restore/", views_history.RestoreView.as_view(), name="history-restore"),
    path("<slug:slug>/changes/<int:pk>/", views_history.ChangeRequestView.as_view(), name="change-request"),
    path("<slug:slug>/lifecycle/", views_lifecycle.LifecycleView.as_view(), name="lifecycle"),
    path("<slug:slug>/outputs/<str:name>/preview/", views_data.PreviewView.as_view(), name="output-preview"),
    path(
        "<slug:slug>/outputs/<str:name>/download.csv",
        views_data.DownloadView.as_view(format=delivery.CSV),
        name="output-download-csv",
    ),
    path(
        "<slug:slug>/outputs/<str:name>/download.parquet",
        views_data.DownloadView.as_view(format=delivery.PARQUET),
        name="output-download-parquet",
    ),
    path(
        "<slug:slug>/outputs/<str:name>/row-filters/",
        views_data.RowFilterEditView.as_view(),
        name="output-row-filters",
    ),
]
