"""The REST API under /api/v1/: one router for every app's viewsets."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from access import api_views as access
from access.api import TokenView
from products import api as products
from products import api_history as history
from products import api_specs, api_standards
from quality import api as quality
from quality import api_kpis

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
    path("products/<slug:slug>/odps/", api_standards.ProductODPSView.as_view(), name="product-odps"),
    path("outputs/<int:pk>/contract/", api_standards.OutputContractView.as_view(), name="output-contract"),
    path("products/<slug:slug>/versions/", history.VersionListView.as_view(), name="product-versions"),
    path("products/<slug:slug>/versions/diff/", history.VersionDiffView.as_view(), name="product-versions-diff"),
    path("products/<slug:slug>/versions/<int:number>/", history.VersionDetailView.as_view(), name="product-version"),
    path(
        "products/<slug:slug>/versions/<int:number>/restore/",
        history.VersionRestoreView.as_view(),
        name="product-version-restore",
    ),
    path("products/<slug:slug>/changes/", history.ChangeListView.as_view(), name="product-changes"),
    path(
        "products/<slug:slug>/changes/<int:pk>/approve/",
        history.ChangeDecisionView.as_view(decision="approve"),
        name="product-change-approve",
    ),
    path(
        "products/<slug:slug>/changes/<int:pk>/reject/",
        history.ChangeDecisionView.as_view(decision="reject"),
        name="product-change-reject",
    ),
    path("kpis/<int:pk>/series/", api_kpis.KPISeriesView.as_view(), name="kpi-series"),
    path("kpis/<int:pk>/compute/", api_kpis.KPIComputeView.as_view(), name="kpi-compute"),
    path("", include(router.urls)),
]
