"""The endpoints for the parts of a spec (goals … inputs): seen with their product, changed by whoever may change it.

``PartEndpoint`` checks each endpoint the same ways (after NetBox's ``APIViewTestCases``);
one subclass per endpoint gives only its data. Rules particular to one part follow.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from products.models import KPI, Connection, Hypothesis, Output, OutputColumn, ProductInput
from tests import factories


class PartEndpoint:
    """The permission checks every part endpoint passes. Subclasses give the data."""

    endpoint = ""
    factory = None
    renamed = {"title": "Renamed"}

    def payload(self, product) -> dict:
        raise NotImplementedError

    def url(self, part=None) -> str:
        return f"/api/v1/{self.endpoint}/" + (f"{part.pk}/" if part else "")

    def test_anonymous_visitors_get_401(self, api, product):
        part = self.factory(product=product)
        assert api(None).get(self.url()).status_code == 401
        assert api(None).get(self.url(part)).status_code == 401

    def test_outsiders_see_parts_of_published_products_only(self, api, charlie, product, draft):
        published = self.factory(product=product)
        hidden = self.factory(product=draft)
        response = api(charlie).get(self.url())
        assert [item["id"] for item in response.json()["results"]] == [published.pk]
        assert api(charlie).get(self.url(published)).status_code == 200
        assert api(charlie).get(self.url(hidden)).status_code == 404
        assert api(charlie).patch(self.url(hidden), self.renamed, format="json").status_code == 404

    def test_outsiders_cannot_change_a_published_product(self, api, charlie, product):
        part = self.factory(product=product)
        client = api(charlie)
        assert client.patch(self.url(part), self.renamed, format="json").status_code == 403
        assert client.delete(self.url(part)).status_code == 403
        assert client.post(self.url(), self.payload(product), format="json").status_code == 403
        assert type(part).objects.filter(product=product).count() == 1

    def test_outsiders_cannot_add_to_a_draft_they_cannot_see(self, api, charlie, draft):
        response = api(charlie).post(self.url(), self.payload(draft), format="json")
        assert response.status_code == 400
        assert "does not exist" in response.json()["product"][0]

    def test_stewards_create_change_and_delete(self, api, bob, draft):
        client = api(bob)
        created = client.post(self.url(), self.payload(draft), format="json")
        assert created.status_code == 201, created.json()
        part = self.factory._meta.model.objects.get(pk=created.json()["id"])
        changed = client.patch(self.url(part), self.renamed, format="json")
        assert changed.status_code == 200, changed.json()
        assert client.delete(self.url(part)).status_code == 204

    def test_admins_do_everything(self, api, admin_user, draft):
        client = api(admin_user)
        created = client.post(self.url(), self.payload(draft), format="json")
        assert created.status_code == 201, created.json()
        part = self.factory._meta.model.objects.get(pk=created.json()["id"])
        assert client.get(self.url(part)).status_code == 200
        assert client.delete(self.url(part)).status_code == 204

    def test_it_filters_by_product(self, api, alice, product, draft):
        self.factory(product=product)
        in_draft = self.factory(product=draft)
        response = api(alice).get(f"{self.url()}?product=churn")
        assert [item["id"] for item in response.json()["results"]] == [in_draft.pk]

    def test_the_list_takes_the_same_queries_for_2_or_20_parts(self, api, alice, product):
        client = api(alice)
        self.factory.create_batch(2, product=product)
        client.get(self.url())  # warm the caches any first request fills
        with CaptureQueriesContext(connection) as few:
            client.get(self.url())
        self.factory.create_batch(18, product=product)
        with CaptureQueriesContext(connection) as many:
            assert len(client.get(self.url()).json()["results"]) == 20
        assert len(many) == len(few)

    def test_a_part_cannot_move_to_another_product(self, api, alice, product, draft):
        part = self.factory(product=product)
        response = api(alice).patch(self.url(part), {"product": "churn"}, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["product"]


class TestGoals(PartEndpoint):
    endpoint = "goals"
    factory = factories.GoalFactory

    def payload(self, product):
        return {"product": product.slug, "title": "More revenue", "target_value": "15", "target_date": "2027-01-01"}


class TestInitiatives(PartEndpoint):
    endpoint = "initiatives"
    factory = factories.InitiativeFactory

    def payload(self, product):
        return {"product": product.slug, "title": "Bundles", "goals": [factories.GoalFactory(product=product).pk]}


class TestHypotheses(PartEndpoint):
    endpoint = "hypotheses"
    factory = factories.HypothesisFactory

    def payload(self, product):
        goal = factories.GoalFactory(product=product)
        initiative = factories.InitiativeFactory(product=product)
        return {
            "product": product.slug,
            "title": "Bundles sell",
            "goal": goal.pk,
            "initiative": initiative.pk,
            "statement": "We believe that bundles will help achieve a higher basket value.",
        }


class TestUseCases(PartEndpoint):
    endpoint = "use-cases"
    factory = factories.UseCaseFactory

    def payload(self, product):
        hypothesis = factories.HypothesisFactory(product=product)
        return {"product": product.slug, "title": "Next best offer", "priority": "high", "hypotheses": [hypothesis.pk]}


class TestUsagePatterns(PartEndpoint):
    endpoint = "usage-patterns"
    factory = factories.UsagePatternFactory
    renamed = {"name": "Renamed"}

    def payload(self, product):
        return {"product": product.slug, "name": "Weekly review", "frequency": "weekly"}


class TestOutputs(PartEndpoint):
    endpoint = "outputs"
    factory = factories.OutputFactory
    renamed = {"name": "renamed"}

    def payload(self, product):
        columns = [
            {"name": "order_id", "data_type": "integer", "role": "key"},
            {"name": "email", "classification": "pii"},
        ]
        return {"product": product.slug, "name": "orders", "path": "sales/orders.parquet", "columns": columns}


class TestKPIs(PartEndpoint):
    endpoint = "kpis"
    factory = factories.KPIFactory
    renamed = {"name": "Renamed"}

    def payload(self, product):
        return {"product": product.slug, "name": "Revenue", "level": "l1", "unit": "EUR", "owner": "bob"}


class TestSLOs(PartEndpoint):
    endpoint = "slos"
    factory = factories.SLOFactory
    renamed = {"name": "Renamed"}

    def payload(self, product):
        return {"product": product.slug, "name": "Fresh", "indicator": "Refreshed daily", "objective_percent": "99.5"}


class TestInputs(PartEndpoint):
    endpoint = "inputs"
    factory = factories.ProductInputFactory
    renamed = {"description": "Renamed"}

    def payload(self, product):
        return {"product": product.slug, "kind": "external", "external_name": "Shopify orders API"}


# --- Rules of particular parts ---------------------------------------------------------------


def test_a_hypothesis_cannot_point_at_another_products_goal(api, alice, product, draft):
    body = TestHypotheses().payload(product)
    body["goal"] = factories.GoalFactory(product=draft).pk
    response = api(alice).post("/api/v1/hypotheses/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"goal": ["The goal must belong to the same product."]}
    assert not Hypothesis.objects.exists()


def test_an_outsider_cannot_link_to_a_goal_they_cannot_see(api, charlie, draft):
    product = factories.DataProductFactory(owner=charlie)
    body = TestHypotheses().payload(product)
    body["goal"] = factories.GoalFactory(product=draft).pk
    response = api(charlie).post("/api/v1/hypotheses/", body, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["goal"][0]


def test_initiatives_serve_goals_of_their_own_product(api, alice, product, draft):
    body = {"product": product.slug, "title": "Bundles", "goals": [factories.GoalFactory(product=draft).pk]}
    response = api(alice).post("/api/v1/initiatives/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["goals"]


def test_a_title_is_unique_within_a_product(api, alice, product):
    factories.GoalFactory(product=product, title="More revenue")
    response = api(alice).post("/api/v1/goals/", {"product": product.slug, "title": "More revenue"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["title"]


def test_a_kpi_cannot_become_its_own_ancestor(api, alice, product):
    top = factories.KPIFactory(product=product, level="l1")
    middle = factories.KPIFactory(product=product, level="l2", parent=top)
    bottom = factories.KPIFactory(product=product, level="l3", parent=middle)
    response = api(alice).patch(f"/api/v1/kpis/{top.pk}/", {"parent": bottom.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"parent": ["A KPI cannot be its own ancestor."]}
    top.refresh_from_db()
    assert top.parent is None


def test_a_kpi_names_columns_its_output_has(api, alice, product):
    output = factories.OutputFactory(product=product)
    factories.OutputColumnFactory(output=output, name="amount")
    body = {"product": product.slug, "name": "Revenue", "output": output.pk, "aggregation": "sum", "column": "price"}
    response = api(alice).post("/api/v1/kpis/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["column"]
    assert not KPI.objects.exists()


def test_writing_columns_replaces_the_list(api, alice, draft):
    output = factories.OutputFactory(product=draft)  # a draft: removing its columns breaks no reader
    factories.OutputColumnFactory.create_batch(3, output=output)
    body = {"columns": [{"name": "day", "data_type": "date", "role": "time"}, {"name": "amount", "role": "measure"}]}
    response = api(alice).patch(f"/api/v1/outputs/{output.pk}/", body, format="json")
    assert response.status_code == 200
    assert [column["name"] for column in response.json()["columns"]] == ["day", "amount"]
    assert list(output.columns.values_list("name", "order")) == [("day", 0), ("amount", 1)]


def test_bad_columns_are_named_by_position_and_change_nothing(api, alice, product):
    output = factories.OutputFactory(product=product)
    factories.OutputColumnFactory(output=output, name="kept")
    body = {"columns": [{"name": "day"}, {"name": "no spaces"}, {"name": "amount", "role": "weight"}]}
    response = api(alice).patch(f"/api/v1/outputs/{output.pk}/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["columns"]
    assert {position: list(errors) for position, errors in response.json()["columns"].items()} == {
        "1": ["name"],
        "2": ["role"],
    }
    body = {"columns": [{"name": "day"}, {"name": "day"}]}
    response = api(alice).patch(f"/api/v1/outputs/{output.pk}/", body, format="json")
    assert response.json() == {"columns": {"1": {"name": ["Another column already has this name."]}}}
    assert list(OutputColumn.objects.values_list("name", flat=True)) == ["kept"]


def test_a_table_output_needs_a_known_connection(api, alice, product):
    body = {"product": product.slug, "name": "orders", "kind": "table", "table": "sales.orders", "connection": "dwh"}
    response = api(alice).post("/api/v1/outputs/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["connection"]
    response = api(alice).post("/api/v1/outputs/", {**body, "connection": None}, format="json")
    assert response.json() == {"connection": ["A table output needs a connection."]}
    assert not Output.objects.exists()


@pytest.mark.parametrize("path", ["../x.parquet", "/etc/passwd", "sales/../../x.csv", "C:/data/x.csv"])
def test_an_output_stays_under_the_data_root(api, alice, product, path):
    body = {"product": product.slug, "name": "orders", "path": path}
    response = api(alice).post("/api/v1/outputs/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["path"]
    assert not Output.objects.exists()


def test_an_output_cannot_follow_a_symlink_out_of_the_data_root(api, alice, product, data_root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (data_root / "escape").symlink_to(outside)
    body = {"product": product.slug, "name": "orders", "path": "escape/orders.parquet"}
    response = api(alice).post("/api/v1/outputs/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"path": ["The path leads outside the data root."]}
    assert not Output.objects.exists()


def test_an_input_cannot_close_a_cycle(api, alice, product):
    upstream = factories.DataProductFactory(slug="upstream", owner=alice)
    factories.ProductInputFactory(product=upstream, source_output=factories.OutputFactory(product=product))
    body = {"product": product.slug, "source_output": factories.OutputFactory(product=upstream).pk}
    response = api(alice).post("/api/v1/inputs/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"source_output": ["This input would make a cycle in the lineage."]}
    assert not ProductInput.objects.filter(product=product).exists()


def test_an_input_reads_only_outputs_its_author_may_see(api, charlie, draft):
    mine = factories.DataProductFactory(owner=charlie)
    hidden = factories.OutputFactory(product=draft)
    response = api(charlie).post("/api/v1/inputs/", {"product": mine.slug, "source_output": hidden.pk}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["source_output"]


def test_a_table_output_names_a_connection_its_author_may_use(api, alice, product):
    connection = Connection(name="dwh")
    connection.set_url("postgresql://reader:secret@db.example.com/warehouse")
    connection.save()
    body = {"product": product.slug, "name": "orders", "kind": "table", "table": "sales.orders", "connection": "dwh"}
    assert list(api(alice).post("/api/v1/outputs/", body, format="json").json()) == ["connection"]
    assign_perm("products.view_connection", alice, connection)
    response = api(alice).post("/api/v1/outputs/", {**body, "format": "csv"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["connection"] == "dwh"
    assert response.json()["format"] == "table"


def test_an_input_from_a_draft_the_reader_may_not_see_shows_no_name(api, alice, charlie, product):
    hidden = factories.DataProductFactory(slug="secret-draft", status="draft")
    factories.ProductInputFactory(product=product, source_output=factories.OutputFactory(product=hidden, name="leak"))
    for url in (f"/api/v1/products/{product.slug}/", f"/api/v1/inputs/?product={product.slug}"):
        body = api(charlie).get(url).content.decode()
        assert "secret-draft" not in body and "leak" not in body
    detail = api(alice).get(f"/api/v1/products/{product.slug}/").json()
    assert detail["inputs"][0]["source_name"] is None
