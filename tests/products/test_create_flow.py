"""Designing a product right to left: north star and vision first, the data last."""

import pytest
from django.urls import reverse
from guardian.shortcuts import get_perms

from products import choices
from products.models import DataProduct
from tests import factories
from tests.products.test_forms import formset_data

pytestmark = pytest.mark.django_db

CREATE_URL = reverse("products:create")


def step_one(**overrides) -> dict:
    domain = factories.DomainFactory(slug="sales", name="Sales")
    data = {
        "north_star_name": "Cross-sell revenue share",
        "north_star_unit": "%",
        "north_star_definition": "Revenue from a customer's second category, over all revenue.",
        "vision": "Sales teams know which customers will buy a second category.",
        "name": "Customer purchase behaviour",
        "slug": "",
        "domain": domain.pk,
        "summary": "Purchase patterns that reveal cross-sell opportunities.",
    }
    return {**data, **overrides}


def section(slug: str, name: str, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in {"flow": "new", **params}.items())
    return reverse("products:edit-section", kwargs={"slug": slug, "section": name}) + "?" + query


class TestWhoMayCreate:
    def test_it_refuses_users_who_are_not_product_managers(self, client, charlie):
        client.force_login(charlie)
        assert client.get(CREATE_URL).status_code == 403
        assert client.post(CREATE_URL, step_one()).status_code == 403
        assert not DataProduct.objects.exists()

    def test_it_sends_anonymous_visitors_to_sign_in(self, client):
        response = client.get(CREATE_URL)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_it_opens_for_product_managers_and_admins(self, client, alice, admin_user):
        client.force_login(alice)
        assert client.get(CREATE_URL).status_code == 200
        client.force_login(admin_user)
        assert client.get(CREATE_URL).status_code == 200


class TestStepOne:
    def test_it_explains_the_north_star_and_shows_six_steps(self, client, alice):
        client.force_login(alice)
        html = client.get(CREATE_URL).content.decode()
        assert "single metric that best captures the value your product delivers" in html
        assert html.count('class="steps__item ') == 6
        assert 'aria-current="step"' in html

    def test_it_shows_errors_and_creates_nothing(self, client, alice, product):
        client.force_login(alice)
        response = client.post(CREATE_URL, step_one(slug="cross-sell", vision="x" * 1_000_000))
        assert response.status_code == 200
        assert set(response.context["form"].errors) == {"slug", "vision"}
        assert DataProduct.objects.count() == 1

    def test_it_creates_a_draft_and_goes_on_to_the_goals(self, client, alice):
        client.force_login(alice)
        response = client.post(CREATE_URL, step_one())
        product = DataProduct.objects.get()
        assert response.status_code == 302
        assert response["Location"] == section(product.slug, "goals")
        assert product.slug == "customer-purchase-behaviour"
        assert product.status == choices.Status.DRAFT
        assert product.north_star.level == choices.KPILevel.NORTH_STAR


class TestTheWholeFlow:
    def test_a_product_manager_designs_a_product_from_north_star_to_sources(self, client, alice, data_root):
        upstream = factories.OutputFactory(product=factories.DataProductFactory(slug="orders"), name="orders")
        client.force_login(alice)

        response = client.post(CREATE_URL, step_one())
        product = DataProduct.objects.get(slug="customer-purchase-behaviour")
        slug = product.slug

        def save(name: str, prefix: str, rows: list[dict], **params) -> str:
            response = client.post(section(slug, name, **params), formset_data(prefix, rows))
            assert response.status_code == 302, response.context["formset"].errors
            return response["Location"]

        assert client.get(response["Location"]).status_code == 200
        goal_row = {"title": "Grow cross-sell revenue", "target_value": "15", "target_unit": "%"}
        assert save("goals", "goals", [goal_row]) == section(slug, "initiatives")
        assert save("initiatives", "initiatives", [{"title": "Bundle offers"}]) == section(slug, "hypotheses")
        goal, initiative = product.goals.get(), product.initiatives.get()
        hypothesis = {"title": "Bundles sell", "goal": goal.pk, "initiative": initiative.pk}
        hypothesis.update(statement="Bundles lift second-category purchases.", status="proposed")
        assert save("hypotheses", "hypotheses", [hypothesis]) == section(slug, "use-cases")
        use_case = {"title": "Cross-sell targeting", "priority": "high"}
        assert save("use-cases", "use_cases", [use_case]) == section(slug, "usage-patterns")
        usage = {"name": "Weekly planning", "frequency": "weekly", "update_cadence": "daily"}
        assert save("usage-patterns", "usage_patterns", [usage]) == section(slug, "kpis")
        # Step 5: the north star is already there; add a level-1 KPI under it.
        north_star = product.north_star
        kpis = [
            {"id": north_star.pk, "name": north_star.name, "level": "north_star"},
            {"name": "Purchase frequency", "level": "l1", "parent": north_star.pk},
        ]
        for row in kpis:
            row.update(direction="up", indicator_type="lagging")
        response = client.post(section(slug, "kpis"), formset_data("kpis", kpis, initial=1))
        assert response["Location"] == section(slug, "slos")
        # Skipping a step is a plain link to the next one.
        skip = client.get(section(slug, "slos")).context["skip_url"]
        assert skip == section(slug, "outputs")
        output = {"name": "customer_spend", "kind": "file", "format": "parquet", "path": "sales/spend.parquet"}
        output["refresh_cadence"] = "daily"
        location = save("outputs", "outputs", [output])
        spend = product.outputs.get()
        assert location == section(slug, "columns")
        column = {"name": "customer_id", "data_type": "string", "role": "key", "classification": "pii", "order": 0}
        column["masking"] = "hash"
        assert save("columns", "columns", [column], output=spend.pk) == section(slug, "inputs")
        assert spend.columns.get().masking == "hash"
        source = {"kind": "output", "source_output": upstream.pk}
        assert save("inputs", "inputs", [source]) == product.get_absolute_url()

        product.refresh_from_db()
        assert product.owner == alice
        assert product.status == choices.Status.DRAFT
        assert set(get_perms(alice, product)) >= {"view_dataproduct", "change_dataproduct", "delete_dataproduct"}
        assert product.kpis.get(name="Purchase frequency").parent == north_star
        assert product.hypotheses.get().goal == goal
        assert spend.columns.get().is_pii
        assert product.inputs.get().source_output == upstream
        assert not product.slos.exists()

    def test_the_columns_step_walks_every_output_before_the_inputs(self, client, alice):
        product = factories.DataProductFactory(owner=alice, status="draft")
        first = factories.OutputFactory(product=product, name="a_first")
        second = factories.OutputFactory(product=product, name="b_second")
        client.force_login(alice)
        response = client.get(section(product.slug, "columns"))
        assert response.context["output"] == first
        assert response.context["skip_url"] == section(product.slug, "columns", output=second.pk)
        response = client.get(section(product.slug, "columns", output=second.pk))
        assert response.context["skip_url"] == section(product.slug, "inputs")

    def test_step_one_of_an_existing_draft_is_its_edit_form(self, client, alice):
        product = factories.DataProductFactory(owner=alice, status="draft")
        client.force_login(alice)
        url = reverse("products:edit", kwargs={"slug": product.slug}) + "?flow=new"
        html = client.get(url).content.decode()
        assert "Save and continue" in html
        data = {
            "name": product.name,
            "domain": product.domain_id,
            "status": "draft",
            "version": "0.1.0",
            "owner": alice.pk,
        }
        response = client.post(url, data)
        assert response["Location"] == section(product.slug, "goals")
