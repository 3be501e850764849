"""The product page is assembled from panels that apps register.

``products`` registers the spec's own panels below; other apps (quality, access)
register theirs from their ``AppConfig.ready()``, so ``products`` never imports them::

    from products.panels import register_panel

    register_panel("health", "quality/_health_panel.html", order=35, context_fn=health_context, title="Health")

A panel's ``context_fn(request, product)`` returns the variables its template needs,
or ``None`` to leave the panel off the page (e.g. a user who may not see it). Two keys
have a meaning on the page: ``count`` (shown in the section nav) and ``edit_url`` (an
"Edit" link in the panel's header, for users who may change the product). It must
take a constant number of queries: the product arrives with its spec prefetched
(see ``products.views.DataProductDetailView``), so read related rows with ``.all()``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from access import policy

from . import choices, lineage, semver, versions
from .choices import KPI_LEVEL_DEPTH, KPILevel
from .models import KPI, DataProduct, Output, RowFilter

ContextFn = Callable[[HttpRequest, DataProduct], dict | None]


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    order: int
    context_fn: ContextFn | None = None
    title: str = ""


@dataclass
class BoundPanel:
    """A panel with its context, ready to render on one product's page."""

    panel: Panel
    context: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.panel.name

    @property
    def title(self) -> str:
        return self.panel.title

    @property
    def template(self) -> str:
        return self.panel.template

    @property
    def count(self) -> int | None:
        """How many items the panel lists, shown beside its name in the page's section nav."""
        return self.context.get("count")


_registry: dict[str, Panel] = {}


def register_panel(
    name: str, template: str, order: int, context_fn: ContextFn | None = None, *, title: str = ""
) -> Panel:
    """Add (or replace) a panel on the product page. Lower ``order`` comes first."""
    panel = Panel(name=name, template=template, order=order, context_fn=context_fn, title=title or name.title())
    _registry[name] = panel
    return panel


def unregister_panel(name: str) -> None:
    _registry.pop(name, None)


def registered_panels() -> list[Panel]:
    return sorted(_registry.values(), key=lambda panel: (panel.order, panel.name))


def bind_panels(request: HttpRequest, product: DataProduct) -> list[BoundPanel]:
    """The panels to show on ``product``'s page, in order, each with its context."""
    bound = []
    for panel in registered_panels():
        context = panel.context_fn(request, product) if panel.context_fn else {}
        if context is not None:
            bound.append(BoundPanel(panel, context))
    return bound


# --- The KPI tree ----------------------------------------------------------------------------


@dataclass
class KPINode:
    kpi: KPI
    depth: int
    calculation: str
    linked: bool = True  # False for a KPI listed at its level because it has no parent in the tree
    root: bool = False
    extra: dict = field(default_factory=dict)  # what KPI_DECORATORS add to the node (e.g. its current value)


def _measure(aggregation: str, column: str) -> str:
    if aggregation == choices.Aggregation.COUNT:
        return f"count({column or '*'})"
    if aggregation == choices.Aggregation.COUNT_DISTINCT:
        return f"count(distinct {column})"
    return f"{aggregation}({column})"


def kpi_calculation(kpi: KPI) -> str:
    """The calculation in one line, e.g. ``sum(revenue) by month over orders where status = 'paid'``."""
    if not kpi.aggregation:
        return ""
    if kpi.aggregation == choices.Aggregation.RATIO:
        numerator = kpi.column or "count(*)"
        text = f"{numerator} / {_measure(kpi.denominator_aggregation, kpi.denominator_column)}"
    else:
        text = _measure(kpi.aggregation, kpi.column)
    if kpi.grain:
        text += f" by {kpi.grain}"
    if kpi.output_id:
        text += f" over {kpi.output.name}"
    if kpi.filter:
        text += f" where {kpi.filter}"
    return text


def _tree_order(kpi: KPI) -> tuple:
    return (KPI_LEVEL_DEPTH.get(kpi.level, 9), kpi.pk)


def kpi_tree(kpis: Iterable[KPI], north_star_id: int | None = None) -> list[KPINode]:
    """The KPI tree flattened depth-first, from the north star down.

    KPIs whose parent is missing are listed after the tree, each at its own level.
    Built in Python from one list of KPIs, so the page's query count does not grow with the tree.
    """
    kpis = list(kpis)
    by_id = {kpi.pk: kpi for kpi in kpis}
    children: dict[int, list[KPI]] = defaultdict(list)
    roots = []
    for kpi in kpis:
        if kpi.parent_id in by_id and kpi.parent_id != kpi.pk:
            children[kpi.parent_id].append(kpi)
        else:
            roots.append(kpi)
    # The product's north star first, then other north stars, then unlinked KPIs by level.
    roots.sort(key=lambda kpi: (kpi.pk != north_star_id, kpi.level != KPILevel.NORTH_STAR, *_tree_order(kpi)))
    nodes: list[KPINode] = []
    seen: set[int] = set()

    def visit(kpi: KPI, depth: int, linked: bool, root: bool = False) -> None:
        if kpi.pk in seen:  # a cycle in bad data must not loop forever
            return
        seen.add(kpi.pk)
        nodes.append(KPINode(kpi, depth, kpi_calculation(kpi), linked, root))
        for child in sorted(children[kpi.pk], key=_tree_order):
            visit(child, depth + 1, linked)

    for root in roots:
        is_north_star = root.level == KPILevel.NORTH_STAR
        visit(root, 0 if is_north_star else KPI_LEVEL_DEPTH.get(root.level, 1), is_north_star, root=True)
    return nodes


# --- The spec's own panels -------------------------------------------------------------------


def edit_url(product: DataProduct, section: str = "") -> str:
    """Where to edit a part of the product's spec (its own fields when ``section`` is empty)."""
    if not section:
        return reverse("products:edit", kwargs={"slug": product.slug})
    return reverse("products:edit-section", kwargs={"slug": product.slug, "section": section})


def vision_context(request: HttpRequest, product: DataProduct) -> dict:
    return {"vision": product.vision, "edit_url": edit_url(product)}


def why_context(request: HttpRequest, product: DataProduct) -> dict:
    goals = list(product.goals.all())
    initiatives = list(product.initiatives.all())
    use_cases = list(product.use_cases.all())
    hypotheses = [hypothesis for goal in goals for hypothesis in goal.hypotheses.all()]
    return {
        "goals": goals,
        "initiatives": initiatives,
        "use_cases": use_cases,
        "hypothesis_count": len(hypotheses),
        "edit_url": edit_url(product, "goals"),
        "count": len(goals) + len(initiatives) + len(hypotheses) + len(use_cases),
    }


def usage_context(request: HttpRequest, product: DataProduct) -> dict:
    patterns = list(product.usage_patterns.all())
    return {"usage_patterns": patterns, "count": len(patterns), "edit_url": edit_url(product, "usage-patterns")}


# Hooks other apps add to the KPI panel, so that ``products`` never imports them (quality: each KPI's current
# value, change and status). ``decorate(request, product, nodes)`` may fill each node's ``extra`` and returns
# variables to add to the panel's context (or None); it must take a bounded number of queries.
KPIDecorator = Callable[[HttpRequest, DataProduct, list[KPINode]], dict | None]
KPI_DECORATORS: list[KPIDecorator] = []


def kpis_context(request: HttpRequest, product: DataProduct) -> dict:
    nodes = kpi_tree(product.kpis.all(), product.north_star_id)
    context = {"kpi_nodes": nodes, "count": len(nodes), "edit_url": edit_url(product, "kpis")}
    for decorate in KPI_DECORATORS:
        context.update(decorate(request, product, nodes) or {})
    return context


def outputs_context(request: HttpRequest, product: DataProduct) -> dict:
    outputs = list(product.outputs.all())
    return {"outputs": outputs, "count": len(outputs), "edit_url": edit_url(product, "outputs")}


def slos_context(request: HttpRequest, product: DataProduct) -> dict:
    slos = list(product.slos.all())
    return {"slos": slos, "count": len(slos), "edit_url": edit_url(product, "slos")}


def people_context(request: HttpRequest, product: DataProduct) -> dict:
    return {
        "owner": product.owner,
        "stewards": list(product.stewards.all()),
        "consumer_teams": list(product.consumer_teams.all()),
        "edit_url": edit_url(product),
    }


def lineage_context(request: HttpRequest, product: DataProduct) -> dict:
    """The lineage graph two steps each way, drawn as SVG, and what breaks if each output changes.

    Constant queries: two per step of the walk, and two for the impact of all the outputs.
    """
    graph = lineage.build(product, request.user, depth=lineage.DEFAULT_DEPTH)
    drawing = lineage.draw(graph)
    outputs = list(product.outputs.all())
    impact = lineage.impact(outputs, request.user, Output.objects.filter(product=product))
    upstream = [box for box in drawing.boxes if box.node.depth < 0]
    downstream = [box for box in drawing.boxes if box.node.depth > 0]
    return {
        "drawing": drawing,
        "lineage_list": [
            {
                "title": "Upstream",
                "boxes": sorted(upstream, key=lambda box: -box.node.depth),
                "hidden": len(graph.hidden_up),
            },
            {
                "title": "Downstream",
                "boxes": sorted(downstream, key=lambda box: box.node.depth),
                "hidden": len(graph.hidden_down),
            },
        ],
        "upstream_count": len(upstream),
        "downstream_count": len(downstream),
        "hidden": len(graph.hidden),
        "impact": [impact[output.pk] for output in outputs],
        "count": len(upstream) + len(downstream),
        "edit_url": edit_url(product, "inputs"),
    }


def notices_context(request: HttpRequest, product: DataProduct) -> dict | None:
    """Banners: this product deprecated or retired, or one of its inputs is; a recent breaking change here or
    upstream. None when there is nothing to say.

    One query whatever the number of inputs: the recent breaking versions of this product and its upstream ones.
    """
    notices = own_notices(request, product)
    inputs = [item for item in product.inputs.all() if item.source_output_id]  # prefetched with their product
    for item in inputs:
        upstream = item.source_output.product
        if upstream.status in (choices.Status.DEPRECATED, choices.Status.RETIRED):
            notices.append(input_notice(item, upstream))
    notices += breaking_notices(request, product, inputs)
    return {"notices": notices} if notices else None


def breaking_notices(request: HttpRequest, product: DataProduct, inputs: list) -> list[dict]:
    """This product's recent breaking version, and each upstream one that breaks an output this product reads."""
    read: dict[int, dict] = defaultdict(dict)  # upstream product → its outputs this product reads → their columns
    upstreams = {}
    for item in inputs:
        upstream = item.source_output.product
        upstreams[upstream.pk] = upstream
        semver.merge_reads(read[upstream.pk], item.source_output.name, item.columns)
    recent = versions.recent_breaking([product.pk, *read], request.user)
    notices = []
    if product.pk in recent:
        own = recent[product.pk]
        when = f"Version {own.version} made breaking changes on {date_text(timezone.localdate(own.created))}:"
        notices.append({"level": "info", "title": "", "text": when, "after": f" {'; '.join(own.breaking)}."})
    for upstream_id, reads in read.items():
        version = recent.get(upstream_id)
        changes = semver.changes_to(version.breaking, reads) if version is not None else []
        if changes and upstream_id != product.pk:
            notices.append(upstream_breaking_notice(upstreams[upstream_id], version, changes))
    return notices


def upstream_breaking_notice(upstream: DataProduct, version, changes: list[str]) -> dict:
    when = date_text(timezone.localdate(version.created))
    if not version.visible:  # a product the reader may not see is not named, nor what changed in it
        text = f"a product you may not see made a breaking change to an input of this product on {when}."
        return {"level": "warning", "title": "Breaking change upstream", "text": text}
    history = reverse("products:history", kwargs={"slug": upstream.slug}) + f"?to={version.number}"
    return {
        "level": "warning",
        "title": "Breaking change upstream",
        "text": "",
        "link_url": history,
        "link_text": f"{upstream.name} {version.version}",
        "after": f" on {when}: {'; '.join(changes)}.",
    }


def own_notices(request: HttpRequest, product: DataProduct) -> list[dict]:
    if product.status == choices.Status.RETIRED:
        return [{"level": "danger", "title": "Retired", "text": "its outputs can no longer be read."}]
    if product.status != choices.Status.DEPRECATED:
        return []
    when = f"retires on {date_text(product.sunset_date)}"
    replacement = product.replaced_by
    if replacement is None or not policy.can(request.user, policy.VIEW, replacement):
        return [{"level": "warning", "title": "Deprecated", "text": f"{when}."}]
    return [
        {
            "level": "warning",
            "title": "Deprecated",
            "text": f"{when}; use",
            "link_url": replacement.get_absolute_url(),
            "link_text": replacement.name,
            "after": " instead.",
        }
    ]


def input_notice(item, upstream: DataProduct) -> dict:
    if upstream.status == choices.Status.RETIRED:
        state, level = "is retired: it can no longer be read", "danger"
    else:
        state, level = f"is deprecated (retires on {date_text(upstream.sunset_date)})", "warning"
    return {
        "level": level,
        "title": "",
        "text": "An input of this product,",
        "link_url": f"{upstream.get_absolute_url()}#output-{item.source_output.name}",
        "link_text": f"{upstream.slug}/{item.source_output.name}",
        "after": f", {state}.",
    }


def date_text(value) -> str:
    return value.isoformat() if value else "a date not yet set"


def data_context(request: HttpRequest, product: DataProduct) -> dict | None:
    """Per output: how the user may read it (a hint; ``products.delivery`` decides on each read) and where.

    Constant queries whatever the number of outputs: ``policy.readable`` answers for all of them at once,
    and nothing here opens a data source.
    """
    outputs = list(product.outputs.all())
    user = request.user
    if not outputs or not policy.is_signed_in(user):
        return None
    of_product = Output.objects.filter(product=product)
    unmasked = set(policy.readable(of_product, user, policy.UNMASKED).values_list("pk", flat=True))
    masked = set(policy.readable(of_product, user, policy.MASKED).values_list("pk", flat=True))
    filtered = set(RowFilter.objects.filter(output__product=product).values_list("output_id", flat=True))
    exempt = user.is_superuser or user.pk == product.owner_id or any(s.pk == user.pk for s in product.stewards.all())
    manages = policy.can_manage_access(user, product)
    items = []
    for output in outputs:
        level = policy.UNMASKED if output.pk in unmasked else policy.MASKED if output.pk in masked else None
        items.append(data_item(product, output, level, output.pk in filtered and not exempt, manages))
    return {"data_outputs": items, "retired": product.status == choices.Status.RETIRED, "count": len(items)}


def data_item(product: DataProduct, output: Output, level: str | None, row_filtered: bool, manages: bool) -> dict:
    def url(name: str) -> str:
        return reverse(f"products:{name}", kwargs={"slug": product.slug, "name": output.name})

    return {
        "output": output,
        "level": level,
        "row_filtered": row_filtered,
        "preview_url": url("output-preview"),
        "csv_url": url("output-download-csv"),
        "parquet_url": url("output-download-parquet"),
        "manage_url": url("output-row-filters") if manages else "",
    }


register_panel("notices", "products/_banners.html", 1, notices_context, title="Notices")
register_panel("vision", "products/_vision.html", 10, vision_context, title="Vision")
register_panel("why", "products/_why.html", 20, why_context, title="Why")
register_panel("usage", "products/_usage.html", 30, usage_context, title="Usage")
register_panel("kpis", "products/_kpis.html", 40, kpis_context, title="KPIs")
register_panel("outputs", "products/_outputs.html", 50, outputs_context, title="Outputs")
register_panel("data", "products/_data.html", 55, data_context, title="Data")
register_panel("slos", "products/_slos.html", 60, slos_context, title="SLOs")
register_panel("people", "products/_people.html", 70, people_context, title="People")
register_panel("lineage", "products/_lineage.html", 80, lineage_context, title="Lineage")

# Issue 5: the spec's history and the changes waiting for review (products.views_history).
from .views_history import changes_context, history_context  # noqa: E402

register_panel("changes", "products/_history_changes.html", 5, changes_context, title="Change requests")
register_panel("history", "products/_history.html", 90, history_context, title="History")
