"""Export → import → export is byte-identical: on the demo, on docs/examples, and on generated specs.

The property test (hypothesis) generates documents with varied goals, initiatives, hypotheses,
outputs, columns, checks, row filters, KPI trees and SLOs, including awkward text (quotes,
colons, unicode, several lines). Each is imported, exported, imported again and exported again:
the second import must change nothing and both exports must be the same bytes, and what was
generated must be what was exported.
"""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.models import AuditEvent
from products.models import DataProduct
from products.specs import loader
from products.specs.document import dump, to_yaml
from products.specs.importer import import_documents
from products.specs.schema import schema_text
from tests import factories

from .conftest import counts

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_demo_round_trips_byte_for_byte_and_writes_nothing(demo, admin_user):
    exported = {product.slug: to_yaml(product) for product in DataProduct.objects.all()}
    documents = [doc for slug, text in exported.items() for doc in loader.load(text, f"{slug}.yaml")]
    before, events = counts(), AuditEvent.objects.count()
    report = import_documents(documents, user=admin_user)
    assert not report.changed, report.text()
    assert counts() == before
    assert AuditEvent.objects.count() == events
    assert {product.slug: to_yaml(product) for product in DataProduct.objects.all()} == exported


def test_the_examples_in_docs_are_the_seeded_demo_exported(demo):
    """docs/examples/<slug>.yaml: refresh with ``export_specs docs/examples`` on a demo seeded on 2026-01-01."""
    products = DataProduct.objects.order_by("slug")
    assert sorted(path.stem for path in (DOCS / "examples").glob("*.yaml")) == [p.slug for p in products]
    for product in products:
        assert (DOCS / "examples" / f"{product.slug}.yaml").read_text(encoding="utf-8") == to_yaml(product)


def test_the_schema_file_is_the_schema_the_loader_uses():
    """Refresh with ``manage.py export_specs --schema docs/spec.schema.json``."""
    assert (DOCS / "spec.schema.json").read_text(encoding="utf-8") == schema_text()


# --- Generated specs ----------------------------------------------------------------------------

# Text with what YAML makes hard: quotes, colons, hashes, leading dashes, unicode, numbers and booleans.
TRICKY = st.sampled_from(["yes", "no", "null", "1.5", "007", "- dash", "a: b", "#hash", "'quoted'", "émoji ✓", "~"])
WORDS = st.text(st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x85\xa0"), max_size=40)
TITLE = st.one_of(TRICKY, WORDS.map(str.strip).filter(bool))
PROSE = st.lists(st.text("abc xyz:#'\"-é", max_size=30).map(str.rstrip), max_size=4).map("\n".join)
IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
DECIMAL = st.decimals(min_value=-(10**6), max_value=10**6, places=4, allow_nan=False, allow_infinity=False)
DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
USERS = ["alice", "bob", "dave"]
GROUPS = ["north", "south"]


def unique_by(key: str, item, max_size: int):
    return st.lists(item, max_size=max_size, unique_by=lambda each: each[key])


def optional(**fields) -> st.SearchStrategy[dict]:
    """A dict with each of ``fields`` present or not."""
    keys = st.sets(st.sampled_from(sorted(fields))) if fields else st.just(set())
    return keys.flatmap(lambda chosen: st.fixed_dictionaries({key: fields[key] for key in sorted(chosen)}))


@st.composite
def columns(draw) -> list[dict]:
    column = st.fixed_dictionaries(
        {
            "name": IDENT,
            "type": st.sampled_from(["string", "integer", "decimal", "date", "timestamp", "boolean"]),
            "role": st.sampled_from(["key", "dimension", "measure", "time", "attribute"]),
            "classification": st.sampled_from(["public", "internal", "pii"]),
        }
    )
    extra = optional(masking=st.sampled_from(["hash", "partial", "null"]), description=TITLE)
    items = draw(st.lists(st.tuples(column, extra).map(lambda pair: pair[0] | pair[1]), min_size=1, max_size=5,
                          unique_by=lambda each: each["name"]))  # fmt: skip
    return items


@st.composite
def output(draw, slos: list[str]) -> dict:
    name = draw(IDENT)
    cols = draw(columns())
    names = [column["name"] for column in cols]
    check = st.one_of(
        st.fixed_dictionaries({"name": TITLE, "type": st.just("row_count")}),
        st.fixed_dictionaries({"name": TITLE, "type": st.just("missing_count"), "column": st.sampled_from(names)}),
    )
    check_extra = optional(
        threshold=st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda x: round(x, 3)),
        severity=st.sampled_from(["warn", "fail"]),
        enabled=st.booleans(),
        schedule=st.sampled_from(["0 * * * *", "*/15 * * * *", "30 2 * * 1-5"]),
        slos=st.lists(st.sampled_from(slos), unique=True).map(sorted) if slos else st.just([]),
    )
    checks = draw(unique_by("name", st.tuples(check, check_extra).map(lambda p: p[0] | p[1]), 3))
    rule = st.fixed_dictionaries(
        {"group": st.sampled_from(GROUPS), "column": st.sampled_from(names), "values": st.lists(TITLE, min_size=1)}
    )
    extra = optional(description=PROSE, refresh_cadence=st.sampled_from(["hourly", "weekly"]))
    return {"name": name, "kind": "file", "format": "parquet", "path": f"gen/{name}.parquet"} | draw(extra) | {
        "columns": cols, "checks": checks, "row_filters": draw(st.lists(rule, max_size=2)),
    }  # fmt: skip


@st.composite
def kpi_tree(draw, goals: list[str]) -> list[dict]:
    names = draw(st.lists(TITLE, max_size=5, unique=True))
    levels = ["north_star", "l1", "l2", "l3"]
    kpis = []
    for index, name in enumerate(names):
        level = draw(st.sampled_from(levels[1:] if index else levels))
        higher = [kpi for kpi in kpis if levels.index(kpi["level"]) < levels.index(level)]
        item = {"name": name, "level": level}
        if higher and draw(st.booleans()):
            item["parent"] = draw(st.sampled_from(higher))["name"]
        item |= draw(optional(unit=st.sampled_from(["EUR", "%"]), target=DECIMAL, direction=st.just("down")))
        if goals:
            item["goals"] = sorted(draw(st.lists(st.sampled_from(goals), unique=True)))
        kpis.append(item)
    return kpis


@st.composite
def spec_documents(draw) -> dict:
    goals = draw(unique_by("title", st.fixed_dictionaries({"title": TITLE}, optional={
        "description": PROSE, "target": DECIMAL, "target_unit": st.just("%"), "target_date": DATES,
    }), 4))  # fmt: skip
    goal_titles = [goal["title"] for goal in goals]
    initiatives = draw(unique_by("title", st.fixed_dictionaries({"title": TITLE}), 3))
    for initiative in initiatives:
        if goal_titles:
            initiative["goals"] = sorted(draw(st.lists(st.sampled_from(goal_titles), unique=True)))
    hypotheses = []
    if goal_titles and initiatives:
        hypothesis = st.fixed_dictionaries({
            "title": TITLE, "goal": st.sampled_from(goal_titles),
            "initiative": st.sampled_from([each["title"] for each in initiatives]), "statement": TITLE,
            "status": st.sampled_from(["proposed", "validated", "rejected"]),
        })  # fmt: skip
        hypotheses = draw(unique_by("title", hypothesis, 3))
    kpis = draw(kpi_tree(goal_titles))
    slo = st.fixed_dictionaries({
        "name": TITLE, "category": st.sampled_from(["architecture", "quality", "governance"]), "indicator": TITLE,
        "objective_percent": st.decimals(min_value="0.001", max_value=100, places=3),
        "window_days": st.integers(1, 366),
    })  # fmt: skip
    slos = draw(unique_by("name", slo, 3))
    for item in slos:
        if kpis and draw(st.booleans()):
            item["kpi"] = draw(st.sampled_from(kpis))["name"]
    outputs = draw(unique_by("name", output([each["name"] for each in slos]), 2))
    spec = {
        "summary": draw(TITLE),
        "goals": goals,
        "initiatives": initiatives,
        "hypotheses": hypotheses,
        "inputs": [{"external": name} for name in draw(st.lists(TITLE, max_size=2, unique=True))],
        "outputs": outputs,
        "kpis": kpis,
        "slos": slos,
    }
    north = [kpi["name"] for kpi in kpis if kpi["level"] == "north_star"]
    if north:
        spec["north_star"] = north[0]
    metadata = {
        "slug": "generated", "name": draw(TITLE), "domain": "sales", "owner": "alice",
        "stewards": sorted(draw(st.lists(st.sampled_from(USERS[1:]), unique=True))),
        "status": draw(st.sampled_from(["draft", "published"])),
        "version": f"{draw(st.integers(0, 9))}.{draw(st.integers(0, 99))}.{draw(st.integers(0, 9))}",
    }  # fmt: skip
    return {"apiVersion": "lodestar/v1", "kind": "DataProduct", "metadata": metadata, "spec": spec}


@pytest.fixture
def world(db):
    factories.DomainFactory(slug="sales")
    for username in USERS:
        factories.UserFactory(username=username)
    for name in GROUPS:
        Group.objects.create(name=name)
    return factories.AdminFactory(username="admin")


def number(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def semantic(document: dict) -> dict:
    """What a generated document says, in a form that does not depend on list order or number spelling."""
    spec = document["spec"]
    return {
        "goals": [(goal["title"], number(goal.get("target"))) for goal in spec.get("goals", [])],
        "hypotheses": sorted((item["title"], item["goal"], item["initiative"]) for item in spec.get("hypotheses", [])),
        "columns": sorted(
            (output["name"], [(c["name"], c["type"], c["classification"]) for c in output["columns"]])
            for output in spec.get("outputs", [])
        ),
        "checks": sorted(
            (output["name"], check["name"], check.get("column", ""))
            for output in spec.get("outputs", [])
            for check in output.get("checks", [])
        ),
        "kpis": sorted((kpi["name"], kpi["level"], kpi.get("parent", "")) for kpi in spec.get("kpis", [])),
        "slos": sorted(
            (slo["name"], Decimal(slo["objective_percent"]), slo.get("kpi", "")) for slo in spec.get("slos", [])
        ),
        "inputs": sorted(item["external"] for item in spec.get("inputs", [])),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True)
@given(document=spec_documents())
def test_generated_specs_round_trip_byte_for_byte(world, document):
    with transaction.atomic():
        import_documents(loader.load(dump(document), "generated.yaml"), user=world)
        first = to_yaml(DataProduct.objects.get(slug="generated"))
        report = import_documents(loader.load(first, "first.yaml"), user=world)
        assert not report.changed, report.text()
        assert to_yaml(DataProduct.objects.get(slug="generated")) == first
        exported = loader.load(first)[0].data
        assert semantic(exported) == semantic(loader.load(dump(document))[0].data)
        transaction.set_rollback(True)
