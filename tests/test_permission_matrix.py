"""The permission matrix: every page and API route × role × product state → the status it answers.

The routes come from the URL resolver, so a new route without a row in ``ROUTES`` fails
``test_every_route_is_in_the_matrix``. Each row names a *rule*: a table of the expected status
for each role (rows) and product state (columns), written out by hand in ``RULES`` — the
expectations are data, not a re-run of the policy's own logic.

Each request runs inside a savepoint that is rolled back, so a route that writes (run now,
resolve, delete) leaves the world as it found it for the next role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pandas as pd
import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from access import grants
from access.models import AccessRequest
from products import choices, versions
from products.history import ChangeRequest
from quality.choices import RunStatus
from quality.models import CheckRun, Incident, Webhook
from tests import factories
from tests.quality.outcomes import run_and_follow
from utilities.paths import resolve_data_path

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "signed_in", "product_manager", "other_steward", "steward", "owner", "admin")
STATES = (choices.Status.DRAFT, choices.Status.PUBLISHED, choices.Status.DEPRECATED, choices.Status.RETIRED)


def table(text: str) -> dict[str, tuple[int, ...]]:
    """A rule written as rows ``role: draft published deprecated retired``."""
    rows = {}
    for line in text.strip().splitlines():
        role, codes = line.split(":")
        rows[role.strip()] = tuple(int(code) for code in codes.split())
    assert set(rows) == set(ROLES), f"a rule must name every role: {sorted(set(ROLES) ^ set(rows))}"
    return rows


def same_for_every_state(**codes: int) -> dict[str, tuple[int, ...]]:
    return {role: (codes[role],) * len(STATES) for role in ROLES}


RULES = {
    # Pages about one product: drafts are seen by their people only; the rest by every signed-in user.
    "view page": table("""
        anonymous:       302 302 302 302
        signed_in:       404 200 200 200
        product_manager: 404 200 200 200
        other_steward:   404 200 200 200
        steward:         200 200 200 200
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    # Changing a product: its stewards, owner and admins; others see it (403) or not (404).
    "change page": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         200 200 200 200
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    # A form posted empty that is valid so: done, and a redirect with a message.
    "change post": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         302 302 302 302
        owner:           302 302 302 302
        admin:           302 302 302 302
    """),
    # A form posted empty: shown again with its errors.
    "change post invalid": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         200 200 200 200
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    # A button posted without its value: refused.
    "change post bad request": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         400 400 400 400
        owner:           400 400 400 400
        admin:           400 400 400 400
    """),
    # Deleting a product: its owner and admins only.
    "delete page": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         403 403 403 403
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    "api view": table("""
        anonymous:       401 401 401 401
        signed_in:       404 200 200 200
        product_manager: 404 200 200 200
        other_steward:   404 200 200 200
        steward:         200 200 200 200
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    "api change": table("""
        anonymous:       401 401 401 401
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         200 200 200 200
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    # Starting work: accepted, to be done by a worker.
    "api start": table("""
        anonymous:       401 401 401 401
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         202 202 202 202
        owner:           202 202 202 202
        admin:           202 202 202 202
    """),
    "api action invalid": table("""
        anonymous:       401 401 401 401
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         400 400 400 400
        owner:           400 400 400 400
        admin:           400 400 400 400
    """),
    # Reading an output's rows: its owner (in clear), stewards (masked) and admins; nobody once retired.
    "read data": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         200 200 200 403
        owner:           200 200 200 403
        admin:           200 200 200 403
    """),
    "api read data": table("""
        anonymous:       401 401 401 401
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         200 200 200 403
        owner:           200 200 200 403
        admin:           200 200 200 403
    """),
    # Managing access to a product's outputs: its owner and admins (stewards only when trusted).
    "manage access page": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         403 403 403 403
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    "manage access post": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         403 403 403 403
        owner:           302 302 302 302
        admin:           302 302 302 302
    """),
    # Asking to read an output: whoever sees it (a form posted empty comes back with its errors).
    "ask for access": table("""
        anonymous:       302 302 302 302
        signed_in:       404 302 302 302
        product_manager: 404 302 302 302
        other_steward:   404 302 302 302
        steward:         302 302 302 302
        owner:           302 302 302 302
        admin:           302 302 302 302
    """),
    # A pending request, made by the product manager: only they may withdraw it.
    "requester's post": table("""
        anonymous:       302 302 302 302
        signed_in:       404 404 404 404
        product_manager: 302 302 302 302
        other_steward:   404 404 404 404
        steward:         404 404 404 404
        owner:           404 404 404 404
        admin:           404 404 404 404
    """),
    "api request": table("""
        anonymous:       401 401 401 401
        signed_in:       404 404 404 404
        product_manager: 200 200 200 200
        other_steward:   404 404 404 404
        steward:         404 404 404 404
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    "api requester's action": table("""
        anonymous:       401 401 401 401
        signed_in:       404 404 404 404
        product_manager: 200 200 200 200
        other_steward:   404 404 404 404
        steward:         404 404 404 404
        owner:           403 403 403 403
        admin:           403 403 403 403
    """),
    # A grant is seen by its holder and by those who manage access to its output; to others it does not exist.
    "api grant": table("""
        anonymous:       401 401 401 401
        signed_in:       404 404 404 404
        product_manager: 404 404 404 404
        other_steward:   404 404 404 404
        steward:         404 404 404 404
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    # Deciding a request through the API: its requester may not decide their own.
    "api decide": table("""
        anonymous:       401 401 401 401
        signed_in:       404 404 404 404
        product_manager: 404 403 403 403
        other_steward:   404 404 404 404
        steward:         404 404 404 404
        owner:           200 200 200 200
        admin:           200 200 200 200
    """),
    "api decide invalid": table("""
        anonymous:       401 401 401 401
        signed_in:       404 404 404 404
        product_manager: 404 403 403 403
        other_steward:   404 404 404 404
        steward:         404 404 404 404
        owner:           400 400 400 400
        admin:           400 400 400 400
    """),
    # The product's owner (or an admin) decides which stewards manage access.
    "owner's post": table("""
        anonymous:       302 302 302 302
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         403 403 403 403
        owner:           302 302 302 302
        admin:           302 302 302 302
    """),
    # Restoring a version (of a product that has not changed since: nothing to undo, still done).
    "api create": table("""
        anonymous:       401 401 401 401
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         201 201 201 201
        owner:           201 201 201 201
        admin:           201 201 201 201
    """),
    # Deciding a steward's change request (posted invalid): the owner and admins, never its author.
    "api review decide invalid": table("""
        anonymous:       401 401 401 401
        signed_in:       404 403 403 403
        product_manager: 404 403 403 403
        other_steward:   404 403 403 403
        steward:         403 403 403 403
        owner:           400 400 400 400
        admin:           400 400 400 400
    """),
    "admins' page": same_for_every_state(
        anonymous=302, signed_in=403, product_manager=403, other_steward=403, steward=403, owner=403, admin=200
    ),
    # Not about one product.
    "signed-in page": same_for_every_state(
        anonymous=302, signed_in=200, product_manager=200, other_steward=200, steward=200, owner=200, admin=200
    ),
    "product managers' page": same_for_every_state(
        anonymous=302, signed_in=403, product_manager=200, other_steward=403, steward=403, owner=200, admin=200
    ),
    # A YAML endpoint posted JSON: signed-in users are told the body's type is not supported.
    "signed-in api unsupported": same_for_every_state(
        anonymous=401, signed_in=415, product_manager=415, other_steward=415, steward=415, owner=415, admin=415
    ),
    "signed-in api": same_for_every_state(
        anonymous=401, signed_in=200, product_manager=200, other_steward=200, steward=200, owner=200, admin=200
    ),
    "sign-in page": same_for_every_state(
        anonymous=200, signed_in=302, product_manager=302, other_steward=302, steward=302, owner=302, admin=302
    ),
    "sign-out": same_for_every_state(
        anonymous=302, signed_in=405, product_manager=405, other_steward=405, steward=405, owner=405, admin=405
    ),
    "redirect": same_for_every_state(
        anonymous=301, signed_in=301, product_manager=301, other_steward=301, steward=301, owner=301, admin=301
    ),
    "token post invalid": same_for_every_state(
        anonymous=400, signed_in=400, product_manager=400, other_steward=400, steward=400, owner=400, admin=400
    ),
}


@dataclass(frozen=True)
class Route:
    rule: str
    url: Callable[[SimpleNamespace], str]
    method: str = "get"
    data: dict | None = None


def product_url(name: str, *parts: str) -> Callable[[SimpleNamespace], str]:
    """A URL under the product: ``parts`` name attributes of the world (``"run.pk"``)."""

    def build(world: SimpleNamespace) -> str:
        args = [world.product.slug] + [attr(world, part) for part in parts]
        return reverse(name, args=args)

    return build


def api_url(name: str, part: str = "") -> Callable[[SimpleNamespace], str]:
    def build(world: SimpleNamespace) -> str:
        return reverse(f"{name}", args=[attr(world, part)] if part else [])

    return build


def attr(world: SimpleNamespace, dotted: str):
    value = world
    for name in dotted.split("."):
        value = getattr(value, name)
    return value


ROUTES: dict[str, Route] = {
    # Sign-in and the pages that are not about one product.
    "login": Route("sign-in page", lambda w: reverse("login")),
    "logout": Route("sign-out", lambda w: reverse("logout")),
    "favicon.ico": Route("redirect", lambda w: "/favicon.ico"),
    "catalog:home": Route("signed-in page", lambda w: reverse("catalog:home")),
    "health": Route("signed-in page", lambda w: reverse("health")),
    "catalog:metrics": Route("signed-in page", lambda w: reverse("catalog:metrics")),
    "products:create": Route("product managers' page", lambda w: reverse("products:create")),
    "api-root": Route("signed-in api", lambda w: reverse("api-root")),
    "api-schema": Route("signed-in api", lambda w: reverse("api-schema")),
    "api-docs": Route("signed-in api", lambda w: reverse("api-docs")),
    "api-token": Route("token post invalid", lambda w: reverse("api-token"), "post", {}),
    # The product's own pages.
    "products:detail": Route("view page", product_url("products:detail")),
    "products:edit": Route("change page", product_url("products:edit")),
    "products:edit-section": Route(
        "change page", lambda w: reverse("products:edit-section", args=[w.product.slug, "goals"])
    ),
    "products:delete": Route("delete page", product_url("products:delete")),
    "products:lifecycle": Route("change page", product_url("products:lifecycle")),
    # Specs as code: the YAML document, read by whoever sees the product, edited by whoever may change it.
    "products:spec": Route("change page", product_url("products:spec")),
    "products:spec-download": Route("view page", product_url("products:spec-download")),
    "product-spec": Route("api view", api_url("product-spec", "product.slug")),
    "specs": Route("signed-in api unsupported", api_url("specs"), "post", {}),
    # Version history and change review.
    "products:history": Route("view page", product_url("products:history")),
    "products:history-restore": Route(
        "change post", product_url("products:history-restore", "version.number"), "post", {}
    ),
    "products:change-request": Route("change page", product_url("products:change-request", "change.pk")),
    # Quality pages.
    "quality:run": Route("view page", product_url("quality:run", "run.pk")),
    "quality:incident": Route("view page", product_url("quality:incident", "incident.pk")),
    "quality:incident-acknowledge": Route(
        "change post", product_url("quality:incident-acknowledge", "incident.pk"), "post", {}
    ),
    "quality:incident-resolve": Route(
        "change post invalid", product_url("quality:incident-resolve", "incident.pk"), "post", {}
    ),
    "quality:run-now": Route("change post", product_url("quality:run-now", "output.pk"), "post", {}),
    "quality:settings": Route("change page", product_url("quality:settings")),
    "quality:checks": Route("change page", product_url("quality:checks", "output.pk")),
    "quality:incident-settings": Route("change post", product_url("quality:incident-settings"), "post", {}),
    "quality:webhook-add": Route("change post invalid", product_url("quality:webhook-add"), "post", {}),
    "quality:webhook-toggle": Route(
        "change post bad request", product_url("quality:webhook-toggle", "webhook.pk"), "post", {}
    ),
    "quality:webhook-delete": Route("change post", product_url("quality:webhook-delete", "webhook.pk"), "post", {}),
    # KPI pages: the tree and a KPI's page follow the product; computing now is for those who may change it.
    "kpis:tree": Route("view page", product_url("kpis:tree")),
    "kpis:detail": Route("view page", product_url("kpis:detail", "kpi.pk")),
    "kpis:compute": Route("change post", product_url("kpis:compute", "kpi.pk"), "post", {}),
    # Dashboards: seen by whoever sees the product.
    "dashboards:list": Route("view page", product_url("dashboards:list")),
    "dashboards:detail": Route("view page", lambda w: w.product.dashboards.first().get_absolute_url()),
    # Reading an output's rows.
    "products:output-preview": Route("read data", product_url("products:output-preview", "output.name")),
    "products:output-download-csv": Route("read data", product_url("products:output-download-csv", "output.name")),
    "products:output-download-parquet": Route(
        "read data", product_url("products:output-download-parquet", "output.name")
    ),
    "output-data": Route("api read data", api_url("output-data", "output.pk")),
    "products:output-row-filters": Route(
        "manage access page", product_url("products:output-row-filters", "output.name")
    ),
    # Access pages and the Access section's actions.
    "access:mine": Route("signed-in page", lambda w: reverse("access:mine")),
    "access:permissions": Route("admins' page", lambda w: reverse("access:permissions")),
    "access:request": Route("ask for access", api_url("access:request", "output.pk"), "post", {}),
    "access:remove-permission": Route(
        "manage access post", api_url("access:remove-permission", "output.pk"), "post", {}
    ),
    "access:approve": Route("manage access post", api_url("access:approve", "request.pk"), "post", {}),
    "access:deny": Route("manage access post", api_url("access:deny", "request.pk"), "post", {}),
    "access:withdraw": Route("requester's post", api_url("access:withdraw", "request.pk"), "post", {}),
    "access:grant": Route("manage access post", api_url("access:grant", "product.pk"), "post", {}),
    "access:manager": Route(
        "owner's post", lambda w: reverse("access:manager", args=[w.product.pk, w.steward.pk]), "post", {}
    ),
    "access:revoke": Route("manage access post", api_url("access:revoke", "grant.pk"), "post", {}),
    "accessrequest-list": Route("signed-in api", api_url("accessrequest-list")),
    "accessgrant-list": Route("signed-in api", api_url("accessgrant-list")),
    "accessrequest-detail": Route("api request", api_url("accessrequest-detail", "request.pk")),
    "accessrequest-approve": Route("api decide", api_url("accessrequest-approve", "request.pk"), "post", {}),
    "accessrequest-deny": Route("api decide invalid", api_url("accessrequest-deny", "request.pk"), "post", {}),
    "accessrequest-withdraw": Route(
        "api requester's action", api_url("accessrequest-withdraw", "request.pk"), "post", {}
    ),
    "accessgrant-detail": Route("api grant", api_url("accessgrant-detail", "grant.pk")),
    "accessgrant-revoke": Route("api grant", api_url("accessgrant-revoke", "grant.pk"), "post", {}),
    # The API: lists answer every signed-in user (filtered by the policy); details follow the product.
    **{
        f"{basename}-list": Route("signed-in api", api_url(f"{basename}-list"))
        for basename in (
            "product",
            "domain",
            "tag",
            "team",
            "goal",
            "initiative",
            "hypothesis",
            "usecase",
            "usagepattern",
            "output",
            "kpi",
            "slo",
            "input",
            "check",
            "checkrun",
            "incident",
        )
    },
    "domain-detail": Route("signed-in api", api_url("domain-detail", "product.domain.slug")),
    "tag-detail": Route("signed-in api", api_url("tag-detail", "tag.name")),
    "team-detail": Route("signed-in api", api_url("team-detail", "team.slug")),
    "product-detail": Route("api view", api_url("product-detail", "product.slug")),
    **{
        f"{basename}-detail": Route("api view", api_url(f"{basename}-detail", f"{part}.pk"))
        for basename, part in (
            ("goal", "goal"),
            ("initiative", "initiative"),
            ("hypothesis", "hypothesis"),
            ("usecase", "use_case"),
            ("usagepattern", "usage_pattern"),
            ("output", "output"),
            ("kpi", "kpi"),
            ("slo", "slo"),
            ("input", "input"),
            ("check", "check"),
            ("checkrun", "run"),
            ("incident", "incident"),
        )
    },
    "slo-history": Route("api view", api_url("slo-history", "slo.pk")),
    "product-lineage": Route("api view", api_url("product-lineage", "product.slug")),
    "product-versions": Route("api view", api_url("product-versions", "product.slug")),
    "product-version": Route("api view", lambda w: reverse("product-version", args=[w.product.slug, w.version.number])),
    "product-versions-diff": Route(
        "api view", lambda w: reverse("product-versions-diff", args=[w.product.slug]) + "?from=1&to=1"
    ),
    "product-version-restore": Route(
        "api create", lambda w: reverse("product-version-restore", args=[w.product.slug, 1]), "post", {}
    ),
    "product-changes": Route("api change", api_url("product-changes", "product.slug")),
    "product-change-approve": Route(
        "api review decide invalid",
        lambda w: reverse("product-change-approve", args=[w.product.slug, w.decided.pk]),
        "post",
        {},
    ),
    "product-change-reject": Route(
        "api review decide invalid",
        lambda w: reverse("product-change-reject", args=[w.product.slug, w.change.pk]),
        "post",
        {},
    ),
    "product-lifecycle": Route("api action invalid", api_url("product-lifecycle", "product.slug"), "post", {}),
    "output-impact": Route("api view", api_url("output-impact", "output.pk")),
    # Open standards: anyone who sees the product reads them as YAML.
    "product-odps": Route("api view", api_url("product-odps", "product.slug")),
    "output-contract": Route("api view", api_url("output-contract", "output.pk")),
    # KPI series are aggregates: whoever sees the product reads them; computing needs change permission
    # (the matrix's KPI has no calculation, so a steward's request is refused as invalid).
    "kpi-series": Route("api view", api_url("kpi-series", "kpi.pk")),
    "kpi-compute": Route("api action invalid", api_url("kpi-compute", "kpi.pk"), "post", {}),
    "check-run": Route("api start", api_url("check-run", "check.pk"), "post", {}),
    "incident-acknowledge": Route("api change", api_url("incident-acknowledge", "incident.pk"), "post", {}),
    "incident-resolve": Route("api action invalid", api_url("incident-resolve", "incident.pk"), "post", {}),
}


def route_names() -> set[str]:
    """Every named route outside the Django admin, once (format-suffix variants share a name)."""
    names: set[str] = set()

    def walk(patterns, namespace: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern):
                names.add(f"{namespace}{pattern.name}" if pattern.name else str(pattern.pattern))

    walk(get_resolver().url_patterns)
    return names


def test_every_route_is_in_the_matrix():
    names = route_names()
    missing, stale = sorted(names - set(ROUTES)), sorted(set(ROUTES) - names)
    assert not missing, f"routes with no row in the permission matrix: {missing}"
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"


def test_every_rule_is_used():
    unused = sorted(set(RULES) - {route.rule for route in ROUTES.values()})
    assert not unused, f"rules no route names: {unused}"


@pytest.fixture
def people():
    owner = factories.ProductManagerFactory(username="owner")
    steward = factories.UserFactory(username="steward")
    other_steward = factories.UserFactory(username="other-steward")
    factories.DataProductFactory(slug="elsewhere", owner=factories.UserFactory(), stewards=[other_steward])
    return {
        "anonymous": None,
        "signed_in": factories.UserFactory(username="signed-in"),
        "product_manager": factories.ProductManagerFactory(username="pm"),
        "other_steward": other_steward,
        "steward": steward,
        "owner": owner,
        "admin": factories.AdminFactory(username="admin"),
        "grantee": factories.UserFactory(username="grantee"),  # holds a grant; not a role of the matrix
    }


def write_orders(output) -> None:
    """A small Parquet file behind the output, with a personal column to mask."""
    path = resolve_data_path(output.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"id": [1, 2, 3], "email": ["a@x.com", "b@x.com", "c@x.com"], "region": ["North"] * 3})
    frame.to_parquet(path)
    for order, (name, data_type, classification) in enumerate(
        [("id", "integer", "internal"), ("email", "string", "pii"), ("region", "string", "internal")]
    ):
        factories.OutputColumnFactory(
            output=output, name=name, data_type=data_type, classification=classification, order=order
        )


def world_of(status: str, people: dict) -> SimpleNamespace:
    """One product in ``status`` with one of everything a route can name."""
    # A deprecated (or retired) product has a sunset date: the model insists on it for a deprecated one.
    sunset = timezone.localdate() if status in (choices.Status.DEPRECATED, choices.Status.RETIRED) else None
    product = factories.DataProductFactory(
        slug=f"matrix-{status}", status=status, owner=people["owner"], stewards=[people["steward"]], sunset_date=sunset
    )
    output = factories.OutputFactory(product=product, name="orders")
    write_orders(output)
    product.dashboards.create(name="Matrix", tiles=[{"show": "card", "kpi": "Not a KPI"}])  # dashboards:detail
    check = factories.CheckFactory(output=output, name="orders exist")
    slo = factories.SLOFactory(product=product)
    run = run_and_follow(check, RunStatus.FAIL, 0, timezone.now())
    webhook = Webhook(product=product, url="https://hooks.example.com/lodestar")
    webhook.set_secret("matrix-secret")
    webhook.save()
    version = versions.record_version(product, source="demo", message="Matrix")
    change = ChangeRequest.objects.create(product=product, author=people["steward"], base_snapshot={}, proposed={})
    decided = ChangeRequest.objects.create(
        product=product, author=people["steward"], base_snapshot={}, proposed={}, status="rejected"
    )
    return SimpleNamespace(
        version=version,
        change=change,
        decided=decided,
        product=product,
        output=output,
        check=check,
        slo=slo,
        run=run,
        incident=Incident.objects.get(quality_check=check),
        webhook=webhook,
        goal=factories.GoalFactory(product=product),
        initiative=factories.InitiativeFactory(product=product),
        hypothesis=factories.HypothesisFactory(product=product),
        use_case=factories.UseCaseFactory(product=product),
        usage_pattern=factories.UsagePatternFactory(product=product),
        kpi=factories.KPIFactory(product=product),
        input=factories.ProductInputFactory(product=product, source_output=factories.OutputFactory()),
        request=AccessRequest.objects.create(
            requester=people["product_manager"], content_object=output, purpose="Matrix", level="masked", days=7
        ),
        grant=grants.grant(output, user=people["grantee"], level="masked", days=7, by=people["owner"]),
        steward=people["steward"],
        tag=factories.TagFactory(),
        team=factories.TeamFactory(),
    )


@pytest.fixture
def worlds(people):
    return {status: world_of(status, people) for status in STATES}


def post(client, url: str, data: dict):
    if url.startswith("/api/"):
        return client.post(url, data, content_type="application/json")
    return client.post(url, data)


def answer(client, route: Route, world: SimpleNamespace, user) -> int:
    """The status ``user`` gets from ``route``; whatever the request wrote is rolled back."""
    client.logout()
    if user is not None:
        client.force_login(user)
    with transaction.atomic():
        url = route.url(world)
        if route.method == "get":
            status = client.get(url).status_code
        else:
            status = post(client, url, route.data or {}).status_code
        transaction.set_rollback(True)
    return status


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_the_route_answers_each_role_and_state_as_the_matrix_says(name, client, people, worlds, settings):
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = False
    route = ROUTES[name]
    expected = RULES[route.rule]
    wrong = []
    for role in ROLES:
        for column, status in enumerate(STATES):
            got = answer(client, route, worlds[status], people[role])
            if got != expected[role][column]:
                wrong.append(f"{role} on {status}: expected {expected[role][column]}, got {got}")
    assert not wrong, f"{name} ({route.rule}):\n" + "\n".join(wrong)


def test_a_rolled_back_request_leaves_the_world_unchanged(client, people, worlds):
    world = worlds[choices.Status.PUBLISHED]
    runs = CheckRun.objects.count()
    answer(client, ROUTES["quality:webhook-delete"], world, people["owner"])
    answer(client, ROUTES["quality:run-now"], world, people["owner"])
    assert Webhook.objects.filter(pk=world.webhook.pk).exists()
    assert CheckRun.objects.count() == runs
