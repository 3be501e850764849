"""The hub's home (search and facets over the products the user may see) and its health page."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.views.generic import TemplateView

from products.choices import Status
from products.models import SLO, DataProduct
from quality.choices import ACTIVE_INCIDENT_STATUSES, FINISHED_STATUSES, HEALTH_ORDER, Health, RunStatus, SLOState
from quality.models import Check, Incident, newest_evaluations_of_outer_slo, newest_runs_of_outer_check

from .filters import health_rank, health_state, narrow

PAGE_SIZE = 24
FACETS = ("domain", "tag", "status", "owner", "health")
SORTS = {
    "name": (("name", "pk"), "Name"),
    "updated": (("-updated", "pk"), "Recently updated"),
    "health": (("health_rank", "name", "pk"), "Health (worst first)"),  # health_rank: see catalog.filters
}
DEFAULT_SORT = "name"
# A facet lists its most common values; past this many, the rest are one search away.
FACET_LIMIT = 30


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool
    url: str


@dataclass
class Facet:
    name: str
    title: str
    values: list[FacetValue]
    hidden: int = 0


def toggled_query(params: QueryDict, name: str, value: str) -> str:
    """The query string with ``name`` set to ``value`` — or removed, if it is already that — and the page reset."""
    query = params.copy()
    query.pop("page", None)
    if query.get(name) == value:
        query.pop(name, None)
    else:
        query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def owner_label(first_name: str, last_name: str, username: str) -> str:
    return f"{first_name} {last_name}".strip() or username


class FacetCounter:
    """One aggregate query per facet, each over the visible, searched products narrowed by the *other* facets.

    So a count says how many products the user would see after clicking that value.
    """

    def __init__(self, searched: QuerySet, selected: dict[str, str]) -> None:
        self.searched = searched
        self.selected = selected

    def base(self, facet: str) -> QuerySet:
        others = {name: value for name, value in self.selected.items() if name != facet}
        return narrow(self.searched, others).order_by()

    def rows(self, facet: str) -> list[tuple[str, str, int]]:
        """(value, label, count) for every value of ``facet`` among the products."""
        base = self.base(facet)
        if facet == "domain":
            rows = base.values_list("domain__slug", "domain__name").annotate(n=Count("pk"))
            return sorted(rows, key=lambda row: row[1].lower())
        if facet == "tag":
            through = DataProduct.tags.through.objects.filter(dataproduct_id__in=base.values("pk"))
            rows = through.values_list("tag__name").annotate(n=Count("dataproduct_id")).order_by()
            return sorted(((name, name, n) for name, n in rows), key=lambda row: (-row[2], row[0]))
        if facet == "status":
            counts = dict(base.values_list("status").annotate(n=Count("pk")))
            return [(value, label, counts[value]) for value, label in Status.choices if value in counts]
        if facet == "health":
            counts = dict(base.annotate(state=health_state()).values_list("state").annotate(n=Count("pk")))
            return [(value, label, counts[value]) for value, label in Health.choices if value in counts]
        rows = base.values_list("owner__username", "owner__first_name", "owner__last_name").annotate(n=Count("pk"))
        return sorted(((user, owner_label(first, last, user), n) for user, first, last, n in rows), key=lambda r: r[1])


def most_common(rows: list[tuple[str, str, int]], current: str) -> tuple[list, int]:
    """The FACET_LIMIT values with the most products (and the selected one), in their original order."""
    if len(rows) <= FACET_LIMIT:
        return rows, 0
    ranked = sorted(rows, key=lambda row: -row[2])[:FACET_LIMIT]
    kept = {row[0] for row in ranked} | {current}
    shown = [row for row in rows if row[0] in kept]
    return shown, len(rows) - len(shown)


def build_facets(params: QueryDict, searched: QuerySet, selected: dict[str, str]) -> list[Facet]:
    counter = FacetCounter(searched, selected)
    titles = {"domain": "Domain", "tag": "Tag", "status": "Status", "owner": "Owner", "health": "Health"}
    facets = []
    for name in FACETS:
        rows = counter.rows(name)
        current = selected.get(name, "")
        if current and current not in {row[0] for row in rows}:
            rows.insert(0, (current, current, 0))  # keep a selected value visible so it can be cleared
        rows, hidden = most_common(rows, current)
        values = [
            FacetValue(value, label, count, value == current, toggled_query(params, name, value))
            for value, label, count in rows
        ]
        facets.append(Facet(name, titles[name], values, hidden))
    return facets


class HomeView(TemplateView):
    """Every product the user may see, searched by ``q``, narrowed by facets, sorted and paginated."""

    template_name = "catalog/home.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        request: HttpRequest = self.request
        params = request.GET
        query = params.get("q", "").strip()[:200]
        selected = {name: params.get(name, "").strip() for name in FACETS if params.get(name, "").strip()}
        sort = params.get("sort") if params.get("sort") in SORTS else DEFAULT_SORT

        searched = DataProduct.objects.restrict(request.user, "view").search(query)
        products = narrow(searched, selected).with_card_data().annotate(health_state=health_state())
        if sort == "health":
            products = products.alias(health_rank=health_rank())
        products = products.order_by(*SORTS[sort][0])
        page = Paginator(products, PAGE_SIZE).get_page(params.get("page"))
        facets = build_facets(params, searched, selected)
        labels = {(facet.name, value.value): value.label for facet in facets for value in facet.values}
        context.update(
            query=query,
            page_obj=page,
            products=page.object_list,
            facets=facets,
            active_filters=[
                {
                    "name": name,
                    "value": value,
                    "label": labels.get((name, value), value),
                    "url": toggled_query(params, name, value),
                }
                for name, value in selected.items()
            ],
            sort=sort,
            sorts=[(key, label, toggled_query(params, "sort", key)) for key, (_, label) in SORTS.items()],
            page_query=self.page_query(params),
            is_filtered=bool(query or selected),
        )
        return context

    @staticmethod
    def page_query(params: QueryDict) -> str:
        """The query string without ``page``, for the pagination links to extend."""
        query = params.copy()
        query.pop("page", None)
        encoded = query.urlencode()
        return f"{encoded}&" if encoded else ""


# --- The hub's health page -------------------------------------------------------------------

# Each table shows this many rows, worst first; the filters narrow the rest.
HEALTH_PAGE_LIMIT = 50
SLO_ORDER = (SLOState.BREACHED, SLOState.AT_RISK, SLOState.UNKNOWN, SLOState.MET)  # worst first
FAILED_STATUSES = (RunStatus.FAIL, RunStatus.ERROR)


def ranked_slos(products: QuerySet) -> QuerySet:
    """The products' SLOs with ``rank``, the place of their latest state in SLO_ORDER (never evaluated: unknown).

    The rank is computed inside the one subquery, so each SLO costs one look-up of its latest evaluation.
    """
    rank = Case(*(When(state=state, then=Value(i)) for i, state in enumerate(SLO_ORDER)), output_field=IntegerField())
    latest_rank = Subquery(newest_evaluations_of_outer_slo().annotate(rank=rank).values("rank")[:1])
    unknown = Value(SLO_ORDER.index(SLOState.UNKNOWN))
    return SLO.objects.filter(product__in=products.values("pk")).annotate(rank=Coalesce(latest_rank, unknown))


def worst_slos(products: QuerySet) -> list[SLO]:
    """The HEALTH_PAGE_LIMIT worst SLOs, with their latest compliance and budget left (None: no data)."""
    ranked = ranked_slos(products)
    order = ("rank", "product__name", "name", "pk")
    # The figures are looked up for the rows shown only, not for every SLO the ranking reads.
    shown = ranked.filter(pk__in=ranked.order_by(*order).values("pk")[:HEALTH_PAGE_LIMIT])
    slos = list(
        shown.annotate(
            compliance=Subquery(newest_evaluations_of_outer_slo().values("compliance_percent")[:1]),
            budget_left=Subquery(newest_evaluations_of_outer_slo().values("budget_remaining_percent")[:1]),
        )
        .select_related("product")
        .order_by(*order)
    )
    for slo in slos:
        slo.slo_state = SLO_ORDER[slo.rank]
    return slos


def failing_checks(products: QuerySet) -> QuerySet:
    """Enabled checks whose latest finished run failed or errored, with that run and when the failing began.

    The failing began with the first fail or error after the last pass or warning (or with the first
    fail or error ever, if the check never passed).
    """
    runs = newest_runs_of_outer_check()
    latest = runs.filter(status__in=FINISHED_STATUSES)
    last_good = latest.exclude(status__in=FAILED_STATUSES).values("scheduled_for")[:1]
    first_failed = runs.filter(status__in=FAILED_STATUSES).order_by("scheduled_for", "id").values("scheduled_for")
    return (
        Check.objects.filter(product__in=products.values("pk"), enabled=True)
        .annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_run_id=Subquery(latest.values("pk")[:1]),
            last_good=Subquery(last_good),
        )
        .filter(last_status__in=FAILED_STATUSES)
        .annotate(
            failing_since=Coalesce(
                Subquery(first_failed.filter(scheduled_for__gt=OuterRef("last_good"))[:1]),
                Subquery(first_failed[:1]),
            )
        )
        .select_related("product", "output")
        .order_by("product__name", "output__name", "name", "pk")
    )


def open_incidents(products: QuerySet) -> QuerySet:
    """Open and acknowledged incidents, the newest first."""
    return (
        Incident.objects.filter(product__in=products.values("pk"), status__in=ACTIVE_INCIDENT_STATUSES)
        .select_related("product")
        .order_by("-opened_at", "-pk")
    )


def with_current(options: list[tuple[str, str]], current: str) -> list[tuple[str, str]]:
    """Select options, with the current value first if no option has it: selected, it can be cleared."""
    if current and current not in {value for value, _ in options}:
        return [(current, current), *options]
    return options


def first_rows(queryset: QuerySet) -> tuple[list, bool]:
    """The first HEALTH_PAGE_LIMIT rows, and whether there are more."""
    rows = list(queryset[: HEALTH_PAGE_LIMIT + 1])
    return rows[:HEALTH_PAGE_LIMIT], len(rows) > HEALTH_PAGE_LIMIT


class HealthView(TemplateView):
    """The health of every product the user may see: counts by state, SLOs, failing checks, open incidents.

    ``domain`` (a slug) and ``state`` (a health state) narrow the page; like the search facets, a
    value no product has matches nothing.
    """

    template_name = "quality/health.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        domain, state = params.get("domain", "").strip(), params.get("state", "").strip()
        visible = DataProduct.objects.restrict(self.request.user, "view")
        in_domain = narrow(visible, {"domain": domain} if domain else {})
        products = narrow(in_domain, {"health": state} if state else {})
        checks, more_checks = first_rows(failing_checks(products))
        incidents, more_incidents = first_rows(open_incidents(products))
        slo_counts = self.slo_counts(products)
        context.update(
            domain=domain,
            state=state,
            domains=self.domains(visible, domain),
            states=with_current([(value, label) for value, label in Health.choices], state),
            summary=self.summary(params, in_domain, state),
            slo_counts=slo_counts,
            slo_total=sum(count for _, count in slo_counts),
            slos=worst_slos(products),
            checks=checks,
            more_checks=more_checks,
            incidents=incidents,
            more_incidents=more_incidents,
            home_url=reverse("catalog:home"),
        )
        return context

    @staticmethod
    def domains(visible: QuerySet, current: str) -> list[tuple[str, str]]:
        """(slug, name) of the domains of the visible products, for the domain filter."""
        rows = visible.order_by("domain__name").values_list("domain__slug", "domain__name").distinct()
        return with_current(list(rows), current)

    @staticmethod
    def summary(params: QueryDict, products: QuerySet, current: str) -> list[FacetValue]:
        """Products by health, worst first; each links to the page narrowed to that state (or back)."""
        counts = dict(products.annotate(state=health_state()).values_list("state").annotate(n=Count("pk")))
        labels = dict(Health.choices)
        return [
            FacetValue(
                state, labels[state], counts.get(state, 0), state == current, toggled_query(params, "state", state)
            )
            for state in HEALTH_ORDER
        ]

    @staticmethod
    def slo_counts(products: QuerySet) -> list[tuple[str, int]]:
        """(state, number of SLOs) for every SLO state, worst first."""
        counts = dict(ranked_slos(products).values_list("rank").annotate(n=Count("pk")))
        return [(state, counts.get(rank, 0)) for rank, state in enumerate(SLO_ORDER)]
