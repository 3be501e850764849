"""The REST API under /api/v1/: one router for every app's viewsets."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from access import api_views as access
from access.api import TokenView
from products import api as products
from products import api_specs
from quality import api as quality

router = DefaultRouter()
router.register("products", products.DataProductViewSet, basename="product")
router.register("domains", products.DomainViewSet, basename="domain")
router.register("tags", products.TagViewSet, basename="tag")
router.register("teams", products.TeamViewSet, basename="team")
router.register("goals", products.GoalViewSet, basename="goal")
router.register("initiatives", products.InitiativeViewSet, basename="initiative")
router.register("hypotheses", products.HypothesisViewSet, basename="hypothesis")
router.register("use-cases", products.UseCaseViewSet, basename="usecase")
router.register("usage-patterns", products.UsagePatternViewSet, basename="usagepattern")
router.register("outputs", products.OutputViewSet, basename="output")
router.register("kpis", products.KPIViewSet, basename="kpi")
router.register("slos", quality.QualitySLOViewSet, basename="slo")  # the products SLOs, with their figures
router.register("inputs", products.ProductInputViewSet, basename="input")
router.register("checks", quality.CheckViewSet, basename="check")
router.register("check-runs", quality.CheckRunViewSet, basename="checkrun")
router.register("incidents", quality.IncidentViewSet, basename="incident")
router.register("access-requests", access.AccessRequestViewSet, basename="accessrequest")
router.register("access-grants", access.AccessGrantViewSet, basename="accessgrant")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("products/<slug:slug>/spec/", api_specs.ProductSpecView.as_view(), name="product-spec"),
    path("specs/", api_specs.SpecImportView.as_view(), name="specs"),
    path("", include(router.urls)),
]
