"""The KPI pages people look at: a KPI's page, a product's KPI tree, and the KPI values on the product page.

Every series comes from ``quality.series`` (which applies the viewer's row filters to breakdowns); every
object from the policy (``access.policy``): a KPI of a product out of sight is a 404. Rows are never read
here: a breakdown's members link to the output's preview, and only for those who may read the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from access import policy
from access.masking import SENSITIVE_CLASSIFICATIONS
from products.choices import Grain, KPIStatus, Status
from products.models import KPI, DataProduct, Goal, Hypothesis
from products.panels import KPINode, kpi_calculation, kpi_tree
from utilities.charts import Chart
from utilities.charts import Series as ChartSeries
from utilities.periods import period_start, periods_back

from . import kpi_tasks, kpis, series
from .choices import ACTIVE_INCIDENT_STATUSES, KPIRunStatus
from .models import Incident, KPIRun
from .series import chart_series, period_label, x_type

SPARK_PERIODS = 12  # how far back a card's sparkline looks, in the KPI's own periods
MAX_PERIODS = 1000  # a trend longer than this is refused (a day grain over decades)
MAX_BREAKDOWN_SERIES = 8  # lines on the breakdown's trend chart: the members with the most rows
RECENT_RUNS = 10
SHARE_UNITS = {"share", "fraction", "ratio"}  # values stored as 0–1, shown as percentages
STATUS_BADGES = {
    "on_target": ("On target", "success"),
    "near": ("Near target", "warning"),
    "off": ("Off target", "danger"),
}


# --- Words and numbers -----------------------------------------------------------------------


def number_text(value: float | None, decimals: int = 2) -> str:
    """Thousands grouped; whole numbers from 1,000 up, else at most ``decimals`` decimals without trailing zeros."""
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text.replace("-", "−")


def is_share(unit: str) -> bool:
    return unit.strip().lower() in SHARE_UNITS


def value_text(value: float | None, unit: str) -> str:
    """A KPI value with its unit: ``312,400 EUR``, ``2.9 items``; a share as a percentage: ``4.2 %``."""
    if value is None:
        return "—"
    if is_share(unit):
        return f"{number_text(value * 100, 1)} %"
    return f"{number_text(value)} {unit}".strip()


def signed(text: str) -> str:
    return text if text.startswith("−") or text == "0" else f"+{text}"


def change_text(change: float, unit: str) -> str:
    """The change in the KPI's own terms: ``+12,300 EUR``; a share's change in percentage points."""
    if is_share(unit):
        return f"{signed(number_text(change * 100, 2))} pp"
    return f"{signed(number_text(change))} {unit}".strip()


# --- Cards -----------------------------------------------------------------------------------


def kpi_url(kpi: KPI, slug: str = "") -> str:
    return reverse("kpis:detail", kwargs={"slug": slug or kpi.product.slug, "pk": kpi.pk})


@dataclass
class CardView:
    """A KPI card as shown: ``series.Card`` in words, its sparkline, and its counter-metrics' cards."""

    kpi: KPI
    card: series.Card
    url: str
    spark: Chart | None = None
    counters: list[CardView] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return self.kpi.unit

    @property
    def deprecated(self) -> bool:
        return self.kpi.status == KPIStatus.DEPRECATED

    @property
    def value(self) -> str:
        return value_text(self.card.value, self.unit)

    @property
    def period(self) -> str:
        return period_label(self.card.period, self.card.grain)

    @property
    def has_value(self) -> bool:
        return self.card.period is not None and self.card.value is not None

    @property
    def failed(self) -> bool:
        run = self.card.last_run
        return run is not None and run.status == KPIRunStatus.ERROR

    @property
    def missing(self) -> str:
        """Why there is no value to show, or ""."""
        if self.has_value:
            return ""
        run = self.card.last_run
        if run is None:
            return "Not computed yet"
        if run.status == KPIRunStatus.RUNNING:
            return "Being computed"
        if run.status == KPIRunStatus.ERROR:
            return "No value: the last computation failed"
        return "No complete period yet"

    @property
    def arrow(self) -> str:
        change = self.card.change
        if change is None:
            return ""
        return "↑" if change > 0 else "↓" if change < 0 else "→"

    @property
    def change(self) -> str:
        if self.card.change is None:
            return ""
        text = change_text(self.card.change, self.unit)
        if self.card.change_percent is not None:
            text += f" ({signed(number_text(self.card.change_percent, 1))} %)"
        return text

    @property
    def previous_period(self) -> str:
        return period_label(self.card.previous_period, self.card.grain)

    @property
    def target(self) -> str:
        return "" if self.kpi.target is None else value_text(float(self.kpi.target), self.unit)

    @property
    def attainment(self) -> str:
        """``89 % of target 310,000 EUR``."""
        if self.card.attainment is None:
            return ""
        return f"{number_text(self.card.attainment * 100, 0)} % of target {self.target}"

    @property
    def status_label(self) -> str:
        if self.card.status in STATUS_BADGES:
            return STATUS_BADGES[self.card.status][0]
        return "No target" if self.kpi.target is None else "Status unknown"

    @property
    def status_tone(self) -> str:
        return STATUS_BADGES.get(self.card.status, ("", "neutral"))[1]

    @property
    def partial(self) -> str:
        """The period in progress: ``4,120 EUR so far in Nov 2026``."""
        if self.card.partial_period is None or self.card.partial_value is None:
            return ""
        period = period_label(self.card.partial_period, self.card.grain).replace("Week of", "the week of")
        return f"{value_text(self.card.partial_value, self.unit)} so far in {period}"


def spark_start(kpi: KPI) -> date:
    """The first of the last ``SPARK_PERIODS`` periods of the KPI's grain, up to today's."""
    grain = series.grain_of(kpi)
    return periods_back(period_start(kpis.local_today(), grain), grain, SPARK_PERIODS)


def sparkline(kpi: KPI, card: series.Card, key: str) -> Chart | None:
    trend = card.trend
    if trend is None or not trend.values:
        return None
    return Chart(
        key=key,
        title=f"{kpi.name}, last {len(trend.values)} periods",
        kind="line",
        x_label="",
        y_label="",
        unit=kpi.unit,
        x_type=x_type(trend.grain),
        series=[chart_series(kpi.name, trend.values, trend.grain)],
        compact=True,
    )


def card_view(kpi: KPI, user, *, spark_key: str = "", slug: str = "", card: series.Card | None = None) -> CardView:
    """The card of ``kpi`` for ``user``, with a sparkline of its last periods when ``spark_key`` names one."""
    card = card or series.card(kpi, user, start=spark_start(kpi))
    spark = sparkline(kpi, card, spark_key) if spark_key else None
    return CardView(kpi=kpi, card=card, url=kpi_url(kpi, slug), spark=spark)


def cards_for(many: list[KPI]) -> dict[int, series.Card]:
    """``series.card`` of each KPI over its last ``SPARK_PERIODS`` periods, by KPI id, in three queries."""
    return series.cards(many, SPARK_PERIODS)


def counter_cards(kpi: KPI, user, known: dict[int, CardView] | None = None) -> list[CardView]:
    """The counter-metrics' cards (no sparkline); ``known`` reuses cards already built on the page."""
    known = known or {}
    others = [other for other in kpi.counter_metrics.all() if other.pk not in known]
    made = cards_for(others)
    return [known.get(other.pk) or card_view(other, user, card=made[other.pk]) for other in kpi.counter_metrics.all()]


# --- Objects, through the policy -------------------------------------------------------------


def kpi_queryset() -> QuerySet:
    hypotheses = Prefetch("goals__hypotheses", queryset=Hypothesis.objects.order_by("pk"))
    return KPI.objects.select_related(
        "product__owner", "product__domain", "output", "owner", "parent"
    ).prefetch_related(
        "goals", hypotheses, "children", Prefetch("counter_metrics", queryset=KPI.objects.select_related("product"))
    )


def visible_kpi(request: HttpRequest, slug: str, pk: int) -> KPI:
    """The KPI ``pk`` of the product ``slug``, or a 404 when either is out of the user's sight."""
    return policy.get_visible_or_404(kpi_queryset(), request.user, pk=pk, product__slug=slug)


def visible_product(request: HttpRequest, slug: str) -> DataProduct:
    queryset = DataProduct.objects.select_related("owner", "domain", "north_star")
    return policy.get_visible_or_404(queryset, request.user, slug=slug)


def breakdown_dimensions(kpi: KPI, user) -> list[str]:
    """The KPI's dimensions the user may break it down by: a personal (PII) column's members are its values,
    so only for those who read the output in clear."""
    dimensions = list(kpi.dimensions or [])
    if not dimensions or kpi.output is None:
        return dimensions
    sensitive = {
        column.name for column in kpi.output.columns.all() if column.classification in SENSITIVE_CLASSIFICATIONS
    }
    if not sensitive.intersection(dimensions) or policy.read_level(user, kpi.output) == policy.UNMASKED:
        return dimensions
    return [name for name in dimensions if name not in sensitive]


def may_read_output(user, kpi: KPI) -> bool:
    """Whether the member links may lead to the output's rows (delivery decides again on the read)."""
    output = kpi.output
    if output is None or kpi.product.status == Status.RETIRED:
        return False
    return policy.read_level(user, output) is not None


# --- The date range and breakdown form ------------------------------------------------------


class RangeForm(forms.Form):
    """``from``, ``to``, ``grain`` and ``dimension`` of a KPI page (GET). Invalid fields fall back to defaults."""

    grain = forms.ChoiceField(required=False)
    dimension = forms.ChoiceField(required=False)

    def __init__(self, data, *, kpi: KPI, dimensions: list[str]) -> None:
        super().__init__(data)
        self.kpi = kpi
        # "from" is a Python keyword: the date fields are added by name.
        self.fields = {
            "from": forms.DateField(required=False, label="From"),
            "to": forms.DateField(required=False, label="To"),
            **self.fields,
        }
        self.fields["grain"].choices = [(grain, Grain(grain).label) for grain in kpis.stored_grains(kpi)]
        self.fields["dimension"].choices = [("", "No breakdown"), *((name, name) for name in dimensions)]

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            self.add_error("from", "From must be on or before To.")
        elif start and end:
            grain = data.get("grain") or series.grain_of(self.kpi)
            if len(series.periods_between(start, end, grain)) > MAX_PERIODS:
                self.add_error("from", f"Choose a shorter range: at most {MAX_PERIODS} periods of a {grain}.")
        return data

    def choice(self) -> tuple[str, date, date, str]:
        """The grain, start, end and dimension to draw: the valid fields, and defaults for the rest."""
        data = self.cleaned_data if self.is_bound else {}
        valid = {name: data.get(name) for name in self.fields if name not in self.errors}
        grain = valid.get("grain") or series.grain_of(self.kpi)
        default_start, default_end = series.default_range(grain)
        if "from" in self.errors or "to" in self.errors:
            valid["from"] = valid["to"] = None
        start, end = valid.get("from") or default_start, valid.get("to") or default_end
        if start > end:  # only one end given, on the wrong side of the other's default
            start, end = default_start, default_end
        return grain, start, end, valid.get("dimension") or ""

    def error_list(self) -> list[str]:
        """Each error with the field it is about: ``From: Enter a valid date.``"""
        return [
            f"{self.fields[name].label or name.title()}: {error}"
            for name, errors in self.errors.items()
            for error in errors
        ]


# --- The KPI page ----------------------------------------------------------------------------


class KPIDetailView(View):
    template_name = "quality/kpi_detail.html"

    def get(self, request: HttpRequest, slug: str, pk: int) -> HttpResponse:
        kpi = visible_kpi(request, slug, pk)
        user = request.user
        form = RangeForm(request.GET or None, kpi=kpi, dimensions=breakdown_dimensions(kpi, user))
        if form.is_bound:
            form.is_valid()
        grain, start, end, dimension = form.choice()
        card = card_view(kpi, user, spark_key="card")
        card.counters = counter_cards(kpi, user)
        context = {
            "product": kpi.product,
            "kpi": kpi,
            "card": card,
            "form": form,
            "errors": form.error_list() if form.is_bound else [],
            "grain": grain,
            "start": start,
            "end": end,
            "dimension": dimension,
            "trend": trend_chart(kpi, user, grain, start, end),
            "calculation": kpi_calculation(kpi),
            "can_change": policy.can(user, policy.CHANGE, kpi.product),
            "runs": list(KPIRun.objects.restrict(user, policy.VIEW).filter(kpi=kpi)[:RECENT_RUNS]),
            "incidents": list(
                Incident.objects.restrict(user, policy.VIEW).filter(kpi=kpi, status__in=ACTIVE_INCIDENT_STATUSES)
            ),
            "children": sorted(kpi.children.all(), key=lambda child: (child.level, child.pk)),
            **breakdown(kpi, user, grain, start, end, dimension, card),
        }
        return render(request, self.template_name, context)


def trend_chart(kpi: KPI, user, grain: str, start: date, end: date) -> Chart:
    (total,) = series.read(kpi, user, grain=grain, start=start, end=end)
    target = float(kpi.target) if kpi.target is not None else None
    return Chart(
        key="trend",
        title=f"{kpi.name} by {grain}, {start:%d %b %Y} to {end:%d %b %Y}",
        kind="line",
        x_label=Grain(grain).label,
        y_label=kpi.unit or kpi.name,
        unit=kpi.unit,
        target=target,
        x_type=x_type(grain),
        series=[chart_series(kpi.name, total.values, grain)],
        filename=f"{kpi.product.slug}-kpi-{kpi.pk}-{grain}",
    )


@dataclass
class Member:
    name: str
    value: str
    preview_url: str = ""


def breakdown(kpi: KPI, user, grain: str, start: date, end: date, dimension: str, card: CardView) -> dict:
    """The breakdown by ``dimension``: the latest complete period per member (bars) and each member over the range."""
    if not dimension:
        return {"members": [], "breakdown_bars": None, "breakdown_lines": None}
    by_member = series.read(kpi, user, grain=grain, start=start, end=end, dimension=dimension)
    order = {name: rank for rank, name in enumerate(series.members_of(kpi, user, dimension))}
    by_member.sort(key=lambda line: (order.get(line.member, len(order)), line.member))
    period = latest_complete(by_member)
    latest = {line.member: value_at(line, period) for line in by_member}
    preview = preview_url(kpi, user)
    members = [
        Member(line.label, value_text(latest[line.member], kpi.unit), member_link(preview, dimension, line.member))
        for line in by_member
    ]
    label = period_label(period, grain)
    bars = Chart(
        key="breakdown-latest",
        title=f"{kpi.name} by {dimension}, {label}" if label else f"{kpi.name} by {dimension}",
        kind="bar",
        x_type="category",
        x_label=dimension,
        y_label=kpi.unit or kpi.name,
        unit=kpi.unit,
        series=[ChartSeries(kpi.name, [line.label for line in by_member], [latest[line.member] for line in by_member])],
    )
    lines = Chart(
        key="breakdown-trend",
        title=f"{kpi.name} by {dimension} and {grain}",
        kind="line",
        x_label=Grain(grain).label,
        y_label=kpi.unit or kpi.name,
        unit=kpi.unit,
        x_type=x_type(grain),
        series=[chart_series(line.label, line.values, grain) for line in by_member[:MAX_BREAKDOWN_SERIES]],
    )
    return {"members": members, "breakdown_bars": bars, "breakdown_lines": lines, "breakdown_period": label}


def latest_complete(lines: list[series.Series]) -> date | None:
    periods = [value.period_start for line in lines for value in line.values if not value.partial]
    return max(periods) if periods else None


def value_at(line: series.Series, period: date | None) -> float | None:
    return next((value.value for value in line.values if value.period_start == period), None)


def preview_url(kpi: KPI, user) -> str:
    if not may_read_output(user, kpi):
        return ""
    return reverse("products:output-preview", kwargs={"slug": kpi.product.slug, "name": kpi.output.name})


def member_link(preview: str, dimension: str, member: str) -> str:
    return f"{preview}?{urlencode({'filter': f'{dimension}:{member}'})}" if preview else ""


class KPIComputeView(View):
    """Compute now: queue the KPI's computation, for those who may change its product."""

    def post(self, request: HttpRequest, slug: str, pk: int) -> HttpResponse:
        kpi = visible_kpi(request, slug, pk)
        policy.require(request.user, policy.CHANGE, kpi.product)
        url = kpi_url(kpi)
        if not kpi.is_computable:
            messages.error(
                request,
                f"{kpi.name} cannot be computed: it needs to be active, with an output, a measure and a time column.",
            )
        elif kpi_tasks.send_compute([kpi.pk], trigger="request", user_id=request.user.pk):
            messages.success(request, f"Queued a computation of {kpi.name}; refresh in a moment for the new values.")
        else:
            messages.error(request, "The task queue cannot be reached: nothing was queued. Try again in a few minutes.")
        return HttpResponseRedirect(url)


# --- The KPI tree ----------------------------------------------------------------------------


@dataclass
class TreeNode:
    node: KPINode
    card: CardView


class KPITreeView(View):
    template_name = "quality/kpi_tree.html"

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        product = visible_product(request, slug)
        user = request.user
        all_kpis = list(kpi_queryset().filter(product=product))
        active = [kpi for kpi in all_kpis if kpi.status != KPIStatus.DEPRECATED]
        made = cards_for(active)
        cards = {
            kpi.pk: card_view(kpi, user, spark_key=f"kpi-{kpi.pk}", slug=slug, card=made[kpi.pk]) for kpi in active
        }
        for kpi in active:
            cards[kpi.pk].counters = counter_cards(kpi, user, cards)
        nodes = [TreeNode(node, cards[node.kpi.pk]) for node in kpi_tree(active, product.north_star_id)]
        goals = Goal.objects.restrict(user, policy.VIEW).filter(product=product).prefetch_related("hypotheses")
        context = {
            "product": product,
            "nodes": nodes,
            "deprecated": [kpi for kpi in all_kpis if kpi.status == KPIStatus.DEPRECATED],
            "goals": list(goals),
            "can_change": policy.can(user, policy.CHANGE, product),
        }
        return render(request, self.template_name, context)


# --- The product page's KPI panel ------------------------------------------------------------


def decorate_kpi_panel(request: HttpRequest, product: DataProduct, nodes: list[KPINode]) -> dict:
    """Each KPI node's current value, change and status, and the links to the KPI pages (three queries in all)."""
    made = cards_for([node.kpi for node in nodes])
    for node in nodes:
        node.extra["card"] = card_view(node.kpi, request.user, slug=product.slug, card=made[node.kpi.pk])
        node.extra["url"] = node.extra["card"].url
    return {"kpi_tree_url": reverse("kpis:tree", kwargs={"slug": product.slug})}
