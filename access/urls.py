"""The access pages under /access/: my requests and grants, the hub-wide permissions, and the
actions of the product page's Access section (POST only)."""

from django.urls import path

from . import views_pages as views

app_name = "access"
urlpatterns = [
    path("", views.MyAccessView.as_view(), name="mine"),
    path("permissions/", views.PermissionsView.as_view(), name="permissions"),
    path("outputs/<int:pk>/request/", views.RequestCreateView.as_view(), name="request"),
    path("outputs/<int:pk>/permissions/remove/", views.RemovePermissionView.as_view(), name="remove-permission"),
    path("requests/<int:pk>/approve/", views.ApproveView.as_view(), name="approve"),
    path("requests/<int:pk>/deny/", views.DenyView.as_view(), name="deny"),
    path("requests/<int:pk>/withdraw/", views.WithdrawView.as_view(), name="withdraw"),
    path("products/<int:pk>/grants/", views.GrantCreateView.as_view(), name="grant"),
    path("products/<int:pk>/managers/<int:user_id>/", views.ManagerToggleView.as_view(), name="manager"),
    path("grants/<int:pk>/revoke/", views.RevokeView.as_view(), name="revoke"),
]
