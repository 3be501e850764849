from django.urls import path

from . import views, views_edit

app_name = "products"
urlpatterns = [
    path("new/", views_edit.ProductCreateView.as_view(), name="create"),
    path("<slug:slug>/", views.DataProductDetailView.as_view(), name="detail"),
    path("<slug:slug>/edit/", views_edit.ProductEditView.as_view(), name="edit"),
    path("<slug:slug>/edit/<str:section>/", views_edit.ProductSectionEditView.as_view(), name="edit-section"),
    path("<slug:slug>/delete/", views_edit.ProductDeleteView.as_view(), name="delete"),
]
