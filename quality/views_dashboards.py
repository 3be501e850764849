"""A product's dashboards: the list, one dashboard's page (a date range, dimension filters, its tiles), and the
Dashboards panel on the product page.

Whoever may see the product sees its dashboards (``access.policy``; 404 otherwise). The tiles come from
``quality.dashboards.build``, which applies the reader's row filters to breakdowns and filter choices; this
module only reads the reader's choices from the query string and lays the tiles out. Bad input never fails the
page: each bad field is named in an error above the form and the page falls back to its defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from access import policy
from products.models import Dashboard, DataProduct

from . import dashboards, series
from .dashboards import Tile, Window
from .views_kpis import value_text

MAX_DAYS = 3660  # the longest range a reader may ask for, as for a dashboard's default range


# --- The reader's choices ----------------------------------------------------------------------


class DashboardFilterForm(forms.Form):
    """``from`` and ``to`` (dates, both included) and one multiple choice per filter dimension, from the query string.

    The dimensions' choices are the members the reader may see; a field in error falls back to its default
    (the dashboard's default window; every member).
    """

    def __init__(self, data, *, default: Window, members: dict[str, list[str]]) -> None:
        super().__init__(data)
        self.default = default
        # "from" is a Python keyword: the fields are added by name.
        self.fields["from"] = forms.DateField(required=False, label="From")
        self.fields["to"] = forms.DateField(required=False, label="To")
        for dimension, names in members.items():
            self.fields[dimension] = forms.MultipleChoiceField(
                required=False, label=dimension.replace("_", " ").capitalize(), choices=[(name, name) for name in names]
            )
        self.dimensions = list(members)

    def clean(self) -> dict:
        data = super().clean()
        if "from" in self.errors or "to" in self.errors:
            return data
        start, end = data.get("from") or self.default.start, data.get("to") or self.default.end
        if start > end:
            self.add_error("from" if data.get("from") else "to", "From must be on or before To.")
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("from", f"Choose a shorter range: at most {MAX_DAYS:,} days.")
        return data

    def window(self) -> Window:
        """The dates to show: the reader's, or the default window when either date is in error."""
        if not self.is_bound or "from" in self.errors or "to" in self.errors:
            return self.default
        data = self.cleaned_data
        return Window(data.get("from") or self.default.start, data.get("to") or self.default.end)

    def chosen(self) -> dict[str, list[str]]:
        """The members picked per dimension; none (all of them) for a dimension in error."""
        if not self.is_bound:
            return {}
        return {name: self.cleaned_data.get(name) or [] for name in self.dimensions if name not in self.errors}

    def error_list(self) -> list[str]:
        """Each error with the field it is about: ``From: Enter a valid date.``"""
        if not self.is_bound:
            return []
        return [
            f"{self.fields[name].label if name in self.fields else 'Filter'}: {error}"
            for name, errors in self.errors.items()
            for error in errors
        ]


def filter_members(dashboard: Dashboard, user) -> dict[str, list[str]]:
    """Per filter dimension, the members the reader may see: the union over the dashboard's KPIs broken down by it."""
    kpis = [kpi for kpi in dashboard.product.kpis.all() if kpi.name in tile_kpi_names(dashboard)]
    found: dict[str, list[str]] = {}
    for dimension in dashboard.filters:
        members: set[str] = set()
        for kpi in kpis:
            if dimension in (kpi.dimensions or []):
                members.update(series.members_of(kpi, user, dimension))
        found[dimension] = sorted(members)
    return found


def tile_kpi_names(dashboard: Dashboard) -> set[str]:
    return {tile.get("kpi") for tile in dashboard.tiles if isinstance(tile, dict)}


# --- Tiles as shown ----------------------------------------------------------------------------


@dataclass
class TileView:
    """A tile with its words and numbers ready to show."""

    tile: Tile
    value: str = ""
    previous: str = ""
    change: str = ""
    arrow: str = ""
    empty: str = ""  # why a tile has nothing to show (never a blank box)
    latest: bool = False  # a card of the latest complete period: nothing to compare with
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.tile.kind


def card_view(tile: Tile) -> TileView:
    view = TileView(tile, notes=list(tile.notes), latest=tile.spec.get("window") == "latest")
    if tile.error:
        return view
    unit = tile.kpi.unit if tile.kpi else ""
    if tile.value is None:
        view.empty = "No data in this range."
        return view
    view.value = value_text(tile.value, unit)
    if tile.previous is not None:
        view.previous = value_text(tile.previous, unit)
    if tile.change_percent is not None:
        view.change = f"{tile.change_percent:+,.1f} %".replace("-", "−")
        view.arrow = "▲" if tile.change_percent > 0 else "▼" if tile.change_percent < 0 else "■"
    return view


def chart_view(tile: Tile) -> TileView:
    view = TileView(tile, notes=list(tile.notes))
    if tile.error:
        return view
    if tile.chart is None or not has_data(tile):
        view.empty = "No data in this range." if tile.kind != "breakdown" else "No data in this range to break down."
    return view


def has_data(tile: Tile) -> bool:
    return any(value is not None for line in tile.chart.series for value in line.y)


def tile_views(tiles: list[Tile]) -> tuple[list[TileView], list[TileView]]:
    """The cards (shown first, in a row) and the charts (two a row on wide screens), each in the dashboard's order.

    A deprecated KPI's tiles are not among them (``build`` leaves them out).
    """
    cards = [card_view(tile) for tile in tiles if tile.kind == "card"]
    charts = [chart_view(tile) for tile in tiles if tile.kind != "card"]
    return cards, charts


# --- Pages -------------------------------------------------------------------------------------


def visible_product(request: HttpRequest, slug: str) -> DataProduct:
    return policy.get_visible_or_404(DataProduct.objects.select_related("domain", "owner"), request.user, slug=slug)


def visible_dashboard(request: HttpRequest, slug: str, pk: int) -> Dashboard:
    queryset = Dashboard.objects.select_related("product")
    return policy.get_visible_or_404(queryset, request.user, pk=pk, product__slug=slug)


class DashboardListView(View):
    template_name = "quality/dashboard_list.html"

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        product = visible_product(request, slug)
        context = {"product": product, "dashboards": list(product.dashboards.all())}
        return render(request, self.template_name, context)


class DashboardDetailView(View):
    template_name = "quality/dashboard_detail.html"

    def get(self, request: HttpRequest, slug: str, pk: int) -> HttpResponse:
        dashboard = visible_dashboard(request, slug, pk)
        user = request.user
        with series.remembered_rights():  # the reader's rights on each dimension, read once for the whole page
            members = filter_members(dashboard, user)
            form = DashboardFilterForm(
                request.GET or None, default=dashboards.default_window(dashboard), members=members
            )
            if form.is_bound:
                form.is_valid()
            window, chosen = form.window(), form.chosen()
            cards, charts = tile_views(dashboards.build(dashboard, user, window, chosen))
        context = {
            "product": dashboard.product,
            "dashboard": dashboard,
            "form": form,
            "errors": form.error_list(),
            "window": window,
            "filters": [filter_field(form, dimension, chosen) for dimension in members],
            "cards": cards,
            "charts": charts,
            "reset_url": dashboard.get_absolute_url(),
        }
        return render(request, self.template_name, context)


@dataclass
class FilterField:
    name: str
    label: str
    options: list[tuple[str, str, bool]]  # (member, label, checked)
    invalid: bool = False


def filter_field(form: DashboardFilterForm, dimension: str, chosen: dict[str, list[str]]) -> FilterField:
    picked = set(chosen.get(dimension) or [])
    options = [(name, name or "(empty)", name in picked) for name, _ in form.fields[dimension].choices]
    return FilterField(dimension, form.fields[dimension].label, options, dimension in form.errors)


# --- The product page's Dashboards panel ---------------------------------------------------------


def dashboards_panel_context(request: HttpRequest, product: DataProduct) -> dict | None:
    """The product's dashboards, each linked (one query); no panel for a product without any."""
    found = list(product.dashboards.all())
    if not found:
        return None
    return {
        "dashboards": found,
        "count": len(found),
        "list_url": reverse("dashboards:list", kwargs={"slug": product.slug}),
    }
