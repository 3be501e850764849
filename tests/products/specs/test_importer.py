"""Importing spec documents: an atomic upsert by slug and natural keys, permission-checked, with a change list."""

import copy

import pytest

from access.models import AuditEvent
from products import versions
from products.models import KPI, DataProduct, Goal, Output, OutputColumn, ProductInput
from products.specs.document import to_yaml
from products.specs.importer import import_documents, positions
from products.specs.loader import SpecErrors
from quality.models import Check
from tests import factories

from .conftest import counts, documents, spec_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(product) -> dict:
    """cross-sell's document with a part of every kind, imported once by alice."""
    data = spec_of(product)
    data["spec"] |= {
        "goals": [{"title": "Grow revenue", "target": 15, "target_unit": "%"}, {"title": "Keep customers"}],
        "initiatives": [{"title": "Recommendations", "goals": ["Grow revenue"]}],
        "hypotheses": [
            {"title": "Recs lift revenue", "goal": "Grow revenue", "initiative": "Recommendations", "statement": "We…"}
        ],
        "use_cases": [{"title": "Campaigns", "priority": "high", "hypotheses": ["Recs lift revenue"]}],
        "usage_patterns": [{"name": "Weekly review", "frequency": "weekly", "update_cadence": "daily"}],
        "outputs": [
            {
                "name": "orders",
                "kind": "file",
                "format": "parquet",
                "path": "cross-sell/orders.parquet",
                "refresh_cadence": "daily",
                "columns": [
                    {"name": "order_id", "type": "integer", "role": "key", "classification": "internal"},
                    {"name": "email", "type": "string", "role": "attribute", "classification": "internal"},
                    {"name": "amount", "type": "decimal", "role": "measure", "classification": "internal"},
                ],
                "checks": [
                    {"name": "ids present", "type": "missing_count", "column": "order_id", "slos": ["Complete"]}
                ],
            }
        ],
        "kpis": [
            {"name": "Revenue", "level": "north_star", "output": "orders", "aggregation": "sum", "column": "amount"},
            {"name": "Orders", "level": "l1", "parent": "Revenue", "goals": ["Grow revenue"], "owner": "bob"},
        ],
        "north_star": "Revenue",
        "slos": [{"name": "Complete", "indicator": "No missing ids", "objective_percent": 99.5, "kpi": "Orders"}],
    }
    import_documents(documents(data), user=product.owner)
    return spec_of(product)


def test_it_imports_every_part_and_exports_it_back_unchanged(spec, product):
    product.refresh_from_db()
    assert product.north_star.name == "Revenue"
    assert list(product.goals.values_list("title", flat=True)) == ["Grow revenue", "Keep customers"]
    assert Check.objects.get(name="ids present").slos.get().name == "Complete"
    assert Check.objects.get(name="ids present").operator == "eq"  # the type's default, filled like a save
    assert KPI.objects.get(name="Orders").parent.name == "Revenue"
    assert spec["spec"]["outputs"][0]["columns"][1] == {
        "name": "email", "type": "string", "role": "attribute", "classification": "internal",
    }  # fmt: skip
    assert spec["spec"]["slos"][0]["objective_percent"] == 99.5


def test_importing_the_same_document_again_writes_nothing(spec, product, alice):
    before, events = counts(), AuditEvent.objects.count()
    report = import_documents(documents(spec), user=alice)
    assert report.text() == "cross-sell: unchanged\n"
    assert counts() == before
    assert AuditEvent.objects.count() == events


def test_the_change_list_names_each_addition_change_and_deletion(spec, product, alice):
    spec["spec"]["goals"].insert(1, {"title": "Win back churners"})
    spec["spec"]["outputs"][0]["columns"][1]["classification"] = "pii"
    spec["spec"]["kpis"] = [kpi for kpi in spec["spec"]["kpis"] if kpi["name"] == "Revenue"]
    del spec["spec"]["slos"][0]["kpi"]
    spec["metadata"]["name"] = "Cross-sell 2"
    report = import_documents(documents(spec), user=alice, dry_run=True)
    assert report.products[0].lines == [
        "~ product 'cross-sell': name Cross-sell → Cross-sell 2",
        "+ goal 'Win back churners'",  # between the two others: their stored order values still fit
        "~ output 'orders' column 'email': classification internal → pii",
        "~ slo 'Complete': kpi Orders → (none)",
        "- kpi 'Orders'",
    ]
    assert report.text().endswith("Dry run: nothing was written.\n")


def test_a_dry_run_writes_nothing(spec, product, alice):
    del spec["spec"]["use_cases"], spec["spec"]["usage_patterns"]
    spec["spec"]["goals"].append({"title": "Another"})
    before, events = counts(), AuditEvent.objects.count()
    report = import_documents(documents(spec), user=alice, dry_run=True)
    assert report.products[0].lines == ["+ goal 'Another'", "- usage pattern 'Weekly review'", "- use case 'Campaigns'"]
    assert counts() == before
    assert AuditEvent.objects.count() == events


def test_a_dry_run_adding_checks_writes_no_check_and_no_schedule(spec, product, alice):
    from django_celery_beat.models import PeriodicTask

    checks = spec["spec"]["outputs"][0]["checks"]
    checks.append({"name": "rows", "type": "row_count", "schedule": "5 4 * * *"})
    before, tasks = counts(), PeriodicTask.objects.count()
    report = import_documents(documents(spec), user=alice, dry_run=True)
    assert report.products[0].lines == ["+ output 'orders' check 'rows'"]
    assert (counts(), PeriodicTask.objects.count()) == (before, tasks)


def test_new_items_written_together_are_audited_versioned_and_scheduled(
    spec, product, alice, django_capture_on_commit_callbacks
):
    from django_celery_beat.models import PeriodicTask

    spec["spec"]["goals"] += [{"title": "New goal one"}, {"title": "New goal two"}]
    spec["spec"]["initiatives"].append({"title": "Bundles", "goals": ["New goal one", "New goal two"]})
    spec["spec"]["outputs"][0]["checks"].append({"name": "rows", "type": "row_count", "schedule": "5 4 * * *"})
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    versions.record_version(product, source="system")  # the fixture's own changes, recorded now
    with django_capture_on_commit_callbacks(execute=True):
        import_documents(documents(spec), user=alice)
    [created] = AuditEvent.objects.filter(action="spec_created", id__gt=last)  # one event for the product's new parts
    assert (created.object_repr, created.actor_name, created.product_slug) == (
        "4 new parts of Cross-sell",
        "alice",
        "cross-sell",
    )
    assert created.details["parts"] == {
        "products.goal": ["New goal one", "New goal two"],
        "products.initiative": ["Bundles"],
        "quality.check": ["rows"],
    }
    initiative = product.initiatives.get(title="Bundles")
    assert sorted(initiative.goals.values_list("title", flat=True)) == ["New goal one", "New goal two"]
    latest = product.versions.order_by("-number").first()
    assert [goal["title"] for goal in latest.snapshot["spec"]["goals"]][-2:] == ["New goal one", "New goal two"]
    output = product.outputs.get()
    assert PeriodicTask.objects.filter(name__contains=f"output {output.pk} @ 5 4 * * *").exists()


def test_items_left_out_are_deleted_and_audited(spec, product, alice):
    spec["spec"]["outputs"][0]["columns"].pop(1)
    del spec["spec"]["use_cases"]
    import_documents(documents(spec), user=alice)
    assert list(OutputColumn.objects.values_list("name", flat=True)) == ["order_id", "amount"]
    assert not product.use_cases.exists()
    assert AuditEvent.objects.filter(action="spec_deleted", object_repr="Campaigns").exists()


def test_a_new_product_is_created_by_a_product_manager_as_its_owner(spec, product, alice):
    spec["metadata"] |= {"slug": "cross-sell-2", "name": "Cross-sell 2"}
    spec["spec"]["outputs"][0]["path"] = "cross-sell-2/orders.parquet"
    report = import_documents(documents(spec), user=alice)
    created = DataProduct.objects.get(slug="cross-sell-2")
    assert report.products[0].lines[0] == "+ product 'cross-sell-2'"
    assert created.owner == alice and created.north_star.name == "Revenue"
    expected = copy.deepcopy(spec)
    assert spec_of(created) == expected


def test_two_files_are_one_transaction_when_the_second_is_bad(spec, product, alice):
    good = copy.deepcopy(spec)
    good["spec"]["goals"].append({"title": "A new goal"})
    bad = copy.deepcopy(spec)
    bad["metadata"] |= {"slug": "other", "name": "Other", "owner": "nobody"}
    before = counts()
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(good, source="a.yaml") + documents(bad, source="b.yaml"), user=alice)
    assert [str(error) for error in caught.value.errors] == ["b.yaml:7:10: metadata.owner: no user 'nobody'"]
    assert counts() == before
    assert not Goal.objects.filter(title="A new goal").exists()


def test_unknown_references_fail_naming_their_paths(spec, product, alice):
    spec["metadata"] |= {"domain": "nowhere", "stewards": ["bob", "ghost"]}
    before = counts()
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=alice)
    assert [(error.path, error.message) for error in caught.value.errors] == [
        ("metadata.domain", "no domain 'nowhere'")
    ]
    spec["metadata"]["domain"] = product.domain.slug
    spec["spec"]["inputs"] = [{"output": "elsewhere/orders"}]
    spec["spec"]["kpis"][1]["parent"] = "Profit"
    spec["spec"]["use_cases"][0]["hypotheses"] = ["Nothing"]
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=alice)
    assert sorted((error.path, error.message) for error in caught.value.errors) == [
        ("metadata.stewards[1]", "no user 'ghost'"),
        ("spec.inputs[0].output", "no output 'elsewhere/orders' that you can see"),
        ("spec.kpis[1].parent", "no kpi 'Profit' in this spec"),
        ("spec.use_cases[0].hypotheses[0]", "no hypothesis 'Nothing' in this spec"),
    ]
    assert counts() == before


def test_model_rules_report_as_the_forms_do(spec, product, alice):
    spec["metadata"]["status"] = "deprecated"
    spec["spec"]["kpis"][0]["level"] = "north_star"  # Orders, whose parent is Revenue
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=alice)
    assert sorted((error.path, error.message) for error in caught.value.errors) == [
        ("metadata.sunset_date", "Deprecating needs a sunset date: the day the product will be retired."),
    ]  # the lifecycle's rule, as on the lifecycle page
    spec["metadata"]["sunset_date"] = "2027-01-01"
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=alice)
    assert [(error.path, error.message) for error in caught.value.errors] == [
        ("spec.kpis[0].parent", "The north-star KPI is the root of the tree; it has no parent.")
    ]


def test_an_outsider_may_neither_change_nor_create(spec, product, charlie):
    before = counts()
    spec["spec"]["summary"] = "An outsider's idea."
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=charlie)
    assert [error.message for error in caught.value.errors] == ["you may not change the product 'cross-sell'"]
    spec["metadata"] |= {"slug": "mine", "owner": "charlie"}
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=charlie)
    assert [error.message for error in caught.value.errors] == [
        "you may not create products (there is no product 'mine' yet)"
    ]
    assert counts() == before


def test_a_steward_edits_but_may_not_hand_the_product_on(spec, product, bob):
    spec["spec"]["summary"] = "Edited by the steward."
    import_documents(documents(spec), user=bob)
    assert DataProduct.objects.get(slug="cross-sell").summary == "Edited by the steward."
    spec["metadata"]["owner"] = "bob"
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=bob)
    assert [error.message for error in caught.value.errors] == [
        "only the owner or an admin may hand the product to someone else"
    ]


def test_custom_sql_checks_are_for_admins(spec, product, bob, admin_user):
    sql_check = {"name": "custom", "type": "custom_sql", "params": {"sql": "SELECT COUNT(*) FROM {table}"}}
    spec["spec"]["outputs"][0]["checks"].append(sql_check)
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=bob)
    assert [(error.path, error.message) for error in caught.value.errors] == [
        ("spec.outputs[0].checks[1]", "only admins may write custom SQL checks")
    ]
    import_documents(documents(spec), user=admin_user)
    assert Check.objects.filter(name="custom").exists()
    spec["spec"]["summary"] = "A steward may still edit the rest."
    import_documents(documents(spec_of(product) | {"spec": spec_of(product)["spec"] | {"summary": "ok"}}), user=bob)


def test_an_output_other_products_read_is_not_deleted(spec, product, alice):
    reader = factories.DataProductFactory(slug="reader", owner=alice)
    ProductInput.objects.create(product=reader, kind="output", source_output=Output.objects.get(name="orders"))
    spec["spec"]["outputs"] = []
    for key in ("output", "aggregation", "column"):
        spec["spec"]["kpis"][1].pop(key)  # Revenue, after Orders
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=alice)
    assert [error.message for error in caught.value.errors] == [
        f"cannot delete output 'orders': other products read it ({reader.name}); remove their inputs first"
    ]
    assert Output.objects.filter(name="orders").exists()


def test_a_loop_of_kpi_parents_is_an_error(spec, alice):
    spec["spec"]["kpis"][1] |= {"level": "l1", "parent": "Orders"}
    spec["spec"].pop("north_star")
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec), user=alice)
    assert [(error.path, error.message) for error in caught.value.errors] == [
        ("spec.kpis[0].parent", "the parents loop: Orders → Revenue → Orders")
    ]


def test_duplicate_names_and_slugs_are_errors(spec, alice):
    twice = copy.deepcopy(spec)
    twice["spec"]["goals"].append({"title": "Grow revenue"})
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(twice) + documents(spec, source="again.yaml"), user=alice)
    assert [str(error) for error in caught.value.errors] == [
        "again.yaml:4:9: metadata.slug: the product 'cross-sell' is also in spec.yaml (line 4)"
    ]
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(twice), user=alice)
    assert [(error.path, error.message) for error in caught.value.errors] == [
        ("spec.goals[2].title", "a second goal 'Grow revenue' (the first is at index 0)")
    ]


def test_reordering_columns_renumbers_them_and_exports_the_new_order(spec, product, alice):
    columns = spec["spec"]["outputs"][0]["columns"]
    columns.reverse()
    import_documents(documents(spec), user=alice)
    assert [column["name"] for column in spec_of(product)["spec"]["outputs"][0]["columns"]] == [
        "amount", "email", "order_id",
    ]  # fmt: skip


def test_positions_keep_stored_orders_that_already_sort_right():
    assert positions([(0, 5), (0, 7), (None, None)]) == [0, 0, 0]
    assert positions([(0, 7), (0, 5)]) == [0, 1]
    assert positions([(3, 1), (None, None), (3, 2)]) == [0, 1, 2]


def test_the_yaml_is_what_the_api_and_files_carry(spec, product):
    assert to_yaml(product).startswith("apiVersion: lodestar/v1\nkind: DataProduct\nmetadata:\n  slug: cross-sell\n")


def test_a_new_product_gets_its_north_star_and_every_part(spec, alice):
    spec["metadata"] |= {"slug": "cross-sell-copy", "name": "Cross-sell copy", "owner": "alice"}
    import_documents(documents(spec), user=alice)
    copy = DataProduct.objects.get(slug="cross-sell-copy")
    assert copy.north_star.name == "Revenue" and copy.north_star.product == copy
    assert spec_of(copy)["spec"] == spec["spec"]
