"""A product as its spec document (``to_document``) and as YAML (``to_yaml``).

The document is deterministic: lists whose order the spec keeps (goals, initiatives, an
output's columns) follow that order; every other list is sorted by its key, so an export
depends on the spec alone, never on database ids. ``importer`` reads the same shape back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal

import yaml
from django.db.models import Prefetch, QuerySet

from quality.models import Check
from utilities.batches import batched

from ..models import KPI, TILE_KEY_ORDER, DataProduct, Output, ProductInput, RowFilter
from . import API_VERSION, KIND
from . import fields as f


def to_document(product: DataProduct) -> dict:
    return document_of(load(product.pk))


def to_documents(pks: Iterable[int], chunk: int = 100) -> Iterator[tuple[int, dict]]:
    """(pk, document) for many products, ``chunk`` at a time: the same queries serve a whole chunk."""
    for batch in batched(pks, chunk):
        for product in with_spec(DataProduct.objects.filter(pk__in=batch)):
            yield product.pk, document_of(product)


def document_of(product: DataProduct) -> dict:
    """The document of a product loaded by ``with_spec``."""
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata(product), "spec": spec(product)}


def to_yaml(product: DataProduct) -> str:
    return dump(to_document(product))


def load(pk: int) -> DataProduct:
    """The product with every part of its spec, in a constant number of queries."""
    return with_spec(DataProduct.objects.filter(pk=pk)).get()


def with_spec(products: QuerySet) -> QuerySet:
    """Products with every part of their spec prefetched: a constant number of queries for any number."""
    checks = Check.objects.prefetch_related("slos").order_by("name")
    row_filters = RowFilter.objects.select_related("user", "group")
    outputs = Output.objects.select_related("connection").prefetch_related(
        "columns", Prefetch("checks", queryset=checks), Prefetch("row_filters", queryset=row_filters)
    )
    return (
        products.select_related("domain", "owner", "replaced_by", "north_star")
        .prefetch_related(
            "stewards",
            "tags",
            "consumer_teams",
            "goals",
            "initiatives__goals",
            "hypotheses__goal",
            "hypotheses__initiative",
            "use_cases__hypotheses",
            "usage_patterns",
            Prefetch("outputs", queryset=outputs),
            Prefetch(
                "kpis",
                queryset=KPI.objects.select_related("parent", "output", "owner").prefetch_related(
                    "goals", "counter_metrics"
                ),
            ),
            "slos__kpi",
            Prefetch("inputs", queryset=ProductInput.objects.select_related("source_output__product")),
        )
        .order_by("pk")
    )


def metadata(product: DataProduct) -> dict:
    values = f.plain_values(f.PRODUCT_METADATA, product)
    result = {"slug": values.pop("slug"), "name": values.pop("name"), "domain": product.domain.slug}
    result["owner"] = product.owner.get_username()
    result |= non_empty(
        stewards=sorted(user.get_username() for user in product.stewards.all()),
        tags=sorted(tag.name for tag in product.tags.all()),
        consumer_teams=sorted(team.slug for team in product.consumer_teams.all()),
    )
    result |= values
    if product.replaced_by_id:
        result["replaced_by"] = product.replaced_by.slug
    return result


def spec(product: DataProduct) -> dict:
    result = f.plain_values(f.PRODUCT_SPEC, product)
    if product.north_star_id:
        result["north_star"] = product.north_star.name
    return result | non_empty(
        goals=[f.plain_values(f.GOAL, goal) for goal in product.goals.all()],
        initiatives=[initiative(item) for item in product.initiatives.all()],
        hypotheses=by_key([hypothesis(item) for item in product.hypotheses.all()], "title"),
        use_cases=by_key([use_case(item) for item in product.use_cases.all()], "title"),
        usage_patterns=by_key([f.plain_values(f.USAGE_PATTERN, item) for item in product.usage_patterns.all()]),
        inputs=sorted((product_input(item) for item in product.inputs.all()), key=input_key),
        outputs=by_key([output(item) for item in product.outputs.all()]),
        kpis=by_key([kpi(item) for item in product.kpis.all()]),
        slos=by_key([slo(item) for item in product.slos.all()]),
        dashboards=[dashboard(item) for item in product.dashboards.all()],
    )


def initiative(item) -> dict:
    return f.plain_values(f.INITIATIVE, item) | non_empty(goals=sorted(goal.title for goal in item.goals.all()))


def hypothesis(item) -> dict:
    values = f.plain_values(f.HYPOTHESIS, item)
    return {"title": values.pop("title"), "goal": item.goal.title, "initiative": item.initiative.title} | values


def use_case(item) -> dict:
    hypotheses = sorted(hypothesis.title for hypothesis in item.hypotheses.all())
    return f.plain_values(f.USE_CASE, item) | non_empty(hypotheses=hypotheses)


def product_input(item: ProductInput) -> dict:
    if item.source_output_id:
        source = item.source_output
        head = {"output": f"{source.product.slug}/{source.name}"}
    else:
        head = {"external": item.external_name}
    return head | f.plain_values(f.INPUT, item)


def input_key(item: dict) -> tuple:
    return ("output", item["output"]) if "output" in item else ("external", item["external"])


def output(item: Output) -> dict:
    values = f.plain_values(f.OUTPUT, item)
    if item.connection_id:
        values["connection"] = item.connection.name
    return values | non_empty(
        columns=[f.plain_values(f.COLUMN, column) for column in item.columns.all()],
        checks=by_key([check(each) for each in item.checks.all()]),
        row_filters=sorted((row_filter(rule) for rule in item.row_filters.all()), key=row_filter_key),
    )


def check(item: Check) -> dict:
    return f.plain_values(f.CHECK, item) | non_empty(slos=sorted(slo.name for slo in item.slos.all()))


def row_filter(rule: RowFilter) -> dict:
    holder = {"user": rule.user.get_username()} if rule.user_id else {"group": rule.group.name}
    return holder | f.plain_values(f.ROW_FILTER, rule)


def row_filter_key(item: dict) -> tuple:
    return ("user" in item, item.get("user") or item.get("group"), item["column"], item["values"])


def kpi(item: KPI) -> dict:
    values = f.plain_values(f.KPI_PART, item)
    head = {"name": values.pop("name"), "level": values.pop("level")}
    if item.parent_id:
        head["parent"] = item.parent.name
    refs = non_empty(
        goals=sorted(goal.title for goal in item.goals.all()),
        counter_metrics=sorted(other.name for other in item.counter_metrics.all()),
    )
    if item.output_id:
        refs["output"] = item.output.name
    if item.owner_id:
        refs["owner"] = item.owner.get_username()
    return head | values | refs


def dashboard(item) -> dict:
    values = f.plain_values(f.DASHBOARD, item)
    if isinstance(values.get("tiles"), list):
        values["tiles"] = [in_key_order(tile) for tile in values["tiles"]]
    return values


def in_key_order(tile) -> dict:
    """A tile's keys in the spec's order, whatever order the database gave them back in."""
    if not isinstance(tile, dict):
        return tile
    known = {key: tile[key] for key in TILE_KEY_ORDER if key in tile}
    return known | {key: value for key, value in tile.items() if key not in known}


def slo(item) -> dict:
    values = f.plain_values(f.SLO_PART, item)
    if item.kpi_id:
        values["kpi"] = item.kpi.name
    return values


def non_empty(**lists) -> dict:
    return {key: value for key, value in lists.items() if value}


def by_key(items: list[dict], key: str = "name") -> list[dict]:
    return sorted(items, key=lambda item: item[key])


# --- YAML ------------------------------------------------------------------------------------


class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """PyYAML's safe dumper, writing decimals as plain numbers and long text as blocks.

    Never an anchor or alias, even for a value used twice: the loader refuses them. libyaml's
    emitter writes about five times faster than PyYAML's; the two agree on every demo spec but can
    fold a long quoted line in another place, so an export is stable only on one of them.
    """

    def ignore_aliases(self, data) -> bool:
        return True


def represent_decimal(dumper: Dumper, value: Decimal):
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value, "f"))


def represent_str(dumper: Dumper, value: str):
    if "\n" in value and is_block_safe(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_str(value)


def is_block_safe(value: str) -> bool:
    """A literal block keeps text exactly only without trailing spaces on a line or tabs."""
    return not any(line != line.rstrip() for line in value.split("\n")) and "\t" not in value


Dumper.add_representer(Decimal, represent_decimal)
Dumper.add_representer(str, represent_str)
Dumper.add_representer(date, yaml.SafeDumper.represent_date)


def dump(document: dict) -> str:
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=120)
