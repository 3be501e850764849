"""The hub's home: search and facets over the products the user may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, QueryDict
from django.views.generic import TemplateView

from products.choices import Status
from products.models import DataProduct

PAGE_SIZE = 24
FACETS = ("domain", "tag", "status", "owner")
SORTS = {"name": ("name", "Name"), "updated": ("-updated", "Recently updated")}
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
        return self.searched.filter_facets(**others).order_by()

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
    titles = {"domain": "Domain", "tag": "Tag", "status": "Status", "owner": "Owner"}
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
        products = searched.filter_facets(**selected).with_card_data().order_by(SORTS[sort][0], "pk")
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
