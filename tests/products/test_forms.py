"""Bad input to the steward forms is refused with the error on the right field, and nothing is saved."""

import os

import pytest

from products import choices
from products.forms import SECTIONS, DataProductCreateForm, DataProductForm
from products.models import KPI, DataProduct, Goal, Hypothesis, Output
from tests import factories

pytestmark = pytest.mark.django_db


def formset_data(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    """POST data for an inline formset: the management form, then each row's fields."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def bind(section: str, product, user, rows: list[dict], initial: int = 0, parent=None):
    formset_class = SECTIONS[section].formset
    prefix = formset_class.get_default_prefix()
    data = formset_data(prefix, rows, initial)
    return formset_class(data, instance=parent or product, user=user, product=product)


def create_data(**overrides) -> dict:
    domain = factories.DomainFactory(slug="sales", name="Sales")
    data = {
        "north_star_name": "Cross-sell revenue share",
        "north_star_unit": "%",
        "north_star_definition": "",
        "vision": "Sales teams know which customers will buy a second category.",
        "name": "Customer purchase behaviour",
        "slug": "",
        "domain": str(domain.pk),
        "summary": "Purchase patterns that reveal cross-sell opportunities.",
    }
    return {**data, **overrides}


class TestCreateForm:
    def test_it_makes_the_slug_from_the_name(self, alice):
        form = DataProductCreateForm(create_data(), user=alice)
        assert form.is_valid(), form.errors
        assert form.cleaned_data["slug"] == "customer-purchase-behaviour"

    def test_it_refuses_a_duplicate_slug(self, alice, product):
        form = DataProductCreateForm(create_data(slug="cross-sell"), user=alice)
        assert not form.is_valid()
        assert list(form.errors) == ["slug"]
        assert DataProduct.objects.count() == 1

    def test_it_refuses_a_duplicate_slug_made_from_the_name(self, alice, product):
        form = DataProductCreateForm(create_data(name="Cross sell"), user=alice)
        assert not form.is_valid()
        assert "slug" in form.errors

    def test_it_refuses_a_nul_byte_in_the_north_star(self, alice):
        form = DataProductCreateForm(create_data(north_star_name="Revenue\x00"), user=alice)
        assert not form.is_valid()
        assert list(form.errors) == ["north_star_name"]
        assert "Null characters are not allowed." in form.errors["north_star_name"]

    def test_it_refuses_a_megabyte_of_vision(self, alice):
        form = DataProductCreateForm(create_data(vision="x" * 1_000_000), user=alice)
        assert not form.is_valid()
        assert list(form.errors) == ["vision"]

    def test_it_creates_a_draft_owned_by_its_designer_with_its_north_star(self, alice):
        form = DataProductCreateForm(create_data(), user=alice)
        assert form.is_valid(), form.errors
        product = form.save()
        assert product.status == choices.Status.DRAFT
        assert product.owner == alice
        assert product.north_star.name == "Cross-sell revenue share"
        assert product.north_star.level == choices.KPILevel.NORTH_STAR
        assert product.north_star.product == product


class TestProductForm:
    def data(self, product, **overrides) -> dict:
        data = {
            "name": product.name,
            "domain": str(product.domain_id),
            "summary": product.summary,
            "vision": product.vision,
            "status": product.status,
            "version": product.version,
            "owner": str(product.owner_id),
            "stewards": [str(user.pk) for user in product.stewards.all()],
        }
        return {**data, **overrides}

    def test_it_refuses_a_nul_byte_in_the_summary(self, alice, product):
        form = DataProductForm(self.data(product, summary="a\x00b"), instance=product, user=alice)
        assert not form.is_valid()
        assert list(form.errors) == ["summary"]

    def test_it_refuses_a_megabyte_of_vision(self, alice, product):
        form = DataProductForm(self.data(product, vision="v" * 1_000_000), instance=product, user=alice)
        assert not form.is_valid()
        assert list(form.errors) == ["vision"]
        product.refresh_from_db()
        assert product.vision.startswith("Help")

    def test_it_refuses_a_bad_version(self, alice, product):
        form = DataProductForm(self.data(product, version="one"), instance=product, user=alice)
        assert not form.is_valid()
        assert list(form.errors) == ["version"]

    def test_it_offers_only_this_products_north_star_kpis(self, alice, product):
        mine = factories.KPIFactory(product=product, level=choices.KPILevel.NORTH_STAR)
        factories.KPIFactory(product=product, level=choices.KPILevel.L1)
        factories.KPIFactory(level=choices.KPILevel.NORTH_STAR)
        form = DataProductForm(instance=product, user=alice)
        assert list(form.fields["north_star"].queryset) == [mine]

    def test_it_refuses_another_products_north_star(self, alice, product):
        other = factories.KPIFactory(level=choices.KPILevel.NORTH_STAR)
        form = DataProductForm(self.data(product, north_star=str(other.pk)), instance=product, user=alice)
        assert not form.is_valid()
        assert list(form.errors) == ["north_star"]

    def test_only_the_owner_may_change_the_owner(self, alice, bob, product, admin_user):
        assert "owner" in DataProductForm(instance=product, user=alice).fields
        assert "owner" in DataProductForm(instance=product, user=admin_user).fields
        assert "owner" not in DataProductForm(instance=product, user=bob).fields


class TestSectionForms:
    def test_it_refuses_a_hypothesis_on_another_products_goal(self, alice, product):
        initiative = factories.InitiativeFactory(product=product)
        foreign_goal = factories.GoalFactory(product=factories.DataProductFactory(owner=alice))
        row = {"title": "Bundles", "goal": foreign_goal.pk, "initiative": initiative.pk}
        row.update(statement="We believe…", status="proposed")
        formset = bind("hypotheses", product, alice, [row, {}])
        assert not formset.is_valid()
        assert list(formset.forms[0].errors) == ["goal"]
        assert not Hypothesis.objects.exists()

    def test_it_offers_only_this_products_goals_and_initiatives(self, alice, product):
        goal = factories.GoalFactory(product=product)
        initiative = factories.InitiativeFactory(product=product)
        factories.GoalFactory()
        factories.InitiativeFactory()
        form = bind("hypotheses", product, alice, []).empty_form
        assert list(form.fields["goal"].queryset) == [goal]
        assert list(form.fields["initiative"].queryset) == [initiative]

    def test_it_refuses_a_kpi_made_its_own_ancestor(self, alice, product):
        top = factories.KPIFactory(product=product, level=choices.KPILevel.L1)
        child = factories.KPIFactory(product=product, level=choices.KPILevel.L2, parent=top)
        rows = [kpi_row(top, parent=child.pk), kpi_row(child, parent=top.pk), {}]
        formset = bind("kpis", product, alice, rows, initial=2)
        assert not formset.is_valid()
        assert "A KPI cannot be its own ancestor." in formset.forms[0].errors["parent"]
        top.refresh_from_db()
        assert top.parent is None

    def test_it_refuses_a_cycle_made_by_two_rows_at_once(self, alice, product):
        first = factories.KPIFactory(product=product, level=choices.KPILevel.L1)
        second = factories.KPIFactory(product=product, level=choices.KPILevel.L1)
        rows = [
            kpi_row(first, level="l2", parent=second.pk),
            kpi_row(second, level="l3", parent=first.pk),
        ]
        formset = bind("kpis", product, alice, rows, initial=2)
        assert not formset.is_valid()
        assert "A KPI cannot be its own ancestor." in formset.forms[0].errors["parent"]
        assert not KPI.objects.filter(parent__isnull=False).exists()

    def test_it_refuses_a_parent_kpi_of_another_product(self, alice, product):
        foreign = factories.KPIFactory(product=factories.DataProductFactory(owner=alice), level="north_star")
        formset = bind("kpis", product, alice, [kpi_fields(name="Orders", parent=foreign.pk)])
        assert not formset.is_valid()
        assert list(formset.forms[0].errors) == ["parent"]

    @pytest.mark.parametrize("path", ["../x", "../../etc/passwd", "/etc/passwd", "C:/data/x.csv", "a/../../x"])
    def test_it_refuses_an_output_path_outside_the_data_root(self, alice, product, path):
        formset = bind("outputs", product, alice, [output_row(path=path)])
        assert not formset.is_valid()
        assert list(formset.forms[0].errors) == ["path"]
        assert not Output.objects.exists()

    def test_it_refuses_an_output_path_through_a_symlink_out_of_the_data_root(
        self, alice, product, data_root, tmp_path
    ):
        outside = tmp_path / "outside"
        outside.mkdir()
        os.symlink(outside, data_root / "escape")
        formset = bind("outputs", product, alice, [output_row(path="escape/orders.parquet")])
        assert not formset.is_valid()
        assert "The path leads outside the data root." in formset.forms[0].errors["path"]

    def test_it_accepts_an_output_path_under_the_data_root(self, alice, product):
        formset = bind("outputs", product, alice, [output_row(path="sales/orders.parquet")])
        assert formset.is_valid(), formset.errors
        formset.save()
        assert product.outputs.get().path == "sales/orders.parquet"

    def test_it_refuses_a_nul_byte_in_a_goal(self, alice, product):
        formset = bind("goals", product, alice, [{"title": "Grow"}, {"title": "Sell\x00more"}])
        assert not formset.is_valid()
        assert not formset.forms[0].errors
        assert list(formset.forms[1].errors) == ["title"]
        assert not Goal.objects.exists()

    def test_it_refuses_two_goals_with_one_title(self, alice, product):
        formset = bind("goals", product, alice, [{"title": "Grow"}, {"title": "Grow"}])
        assert not formset.is_valid()
        assert formset.non_form_errors()

    def test_it_refuses_an_input_from_this_products_own_output(self, alice, product):
        own = factories.OutputFactory(product=product)
        formset = bind("inputs", product, alice, [{"kind": "output", "source_output": own.pk}])
        assert not formset.is_valid()
        assert list(formset.forms[0].errors) == ["source_output"]

    def test_it_offers_inputs_only_from_outputs_the_user_may_see(self, charlie, bob, product):
        visible = factories.OutputFactory(product=factories.DataProductFactory())
        hidden = factories.OutputFactory(product=factories.DataProductFactory(status="draft"))
        factories.OutputFactory(product=product)
        form = bind("inputs", product, bob, []).empty_form
        assert visible in form.fields["source_output"].queryset
        assert hidden not in form.fields["source_output"].queryset
        assert list(form.fields["source_output"].queryset) == [visible]

    def test_it_refuses_a_column_with_a_bad_name(self, alice, product):
        output = factories.OutputFactory(product=product)
        formset = bind("columns", product, alice, [{"name": "customer id", "data_type": "string"}], parent=output)
        assert not formset.is_valid()
        assert "name" in formset.forms[0].errors


def kpi_fields(**overrides) -> dict:
    row = {"name": "Orders", "level": "l1", "direction": "up", "indicator_type": "lagging", "parent": ""}
    return {**row, **overrides}


def kpi_row(kpi, **overrides) -> dict:
    current = {"id": kpi.pk, "name": kpi.name, "level": kpi.level, "parent": kpi.parent_id or ""}
    return kpi_fields(**{**current, **overrides})


def output_row(**overrides) -> dict:
    row = {"name": "orders", "kind": "file", "format": "parquet", "path": "", "refresh_cadence": "daily"}
    return {**row, **overrides}
