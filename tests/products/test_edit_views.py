"""The steward's edit pages: who may open them, what a save changes, and what it refuses."""

import pytest
from django.test import Client
from django.urls import reverse

from products import choices
from products.models import DataProduct, Goal, Hypothesis, OutputColumn
from tests import factories
from tests.products.test_forms import formset_data

pytestmark = pytest.mark.django_db


def edit_url(product) -> str:
    return reverse("products:edit", kwargs={"slug": product.slug})


def section_url(product, section: str) -> str:
    return reverse("products:edit-section", kwargs={"slug": product.slug, "section": section})


def delete_url(product) -> str:
    return reverse("products:delete", kwargs={"slug": product.slug})


def signed_in(client, user):
    client.force_login(user)
    return client


def product_data(product, **overrides) -> dict:
    data = {
        "name": product.name,
        "domain": product.domain_id,
        "summary": product.summary,
        "vision": product.vision,
        "status": product.status,
        "version": product.version,
        "owner": product.owner_id,
        "stewards": [user.pk for user in product.stewards.all()],
    }
    return {**data, **overrides}


class TestWhoMayEdit:
    def test_it_hides_a_drafts_edit_page_from_outsiders(self, client, charlie, draft):
        signed_in(client, charlie)
        assert client.get(edit_url(draft)).status_code == 404
        assert client.get(section_url(draft, "goals")).status_code == 404
        assert client.get(delete_url(draft)).status_code == 404

    def test_it_refuses_outsiders_the_edit_page_of_a_published_product(self, client, charlie, product):
        signed_in(client, charlie)
        assert client.get(edit_url(product)).status_code == 403
        assert client.get(section_url(product, "goals")).status_code == 403
        assert client.post(section_url(product, "goals"), formset_data("goals", [{"title": "x"}])).status_code == 403
        assert not Goal.objects.exists()

    def test_it_lets_the_steward_edit_every_section(self, client, bob, product):
        signed_in(client, bob)
        factories.OutputFactory(product=product)
        assert client.get(edit_url(product)).status_code == 200
        for section in ["goals", "initiatives", "hypotheses", "use-cases", "usage-patterns", "outputs", "columns"]:
            assert client.get(section_url(product, section)).status_code == 200, section
        for section in ["kpis", "slos", "inputs"]:
            assert client.get(section_url(product, section)).status_code == 200, section

    def test_it_lets_the_steward_edit_a_draft(self, client, bob, draft):
        signed_in(client, bob)
        assert client.get(section_url(draft, "goals")).status_code == 200

    def test_it_refuses_the_steward_deletion(self, client, bob, product):
        signed_in(client, bob)
        assert client.get(delete_url(product)).status_code == 403
        assert client.post(delete_url(product)).status_code == 403
        assert DataProduct.objects.filter(pk=product.pk).exists()

    def test_it_lets_the_owner_delete(self, client, alice, product):
        signed_in(client, alice)
        assert client.get(delete_url(product)).status_code == 200
        response = client.post(delete_url(product))
        assert response.status_code == 302
        assert response["Location"] == reverse("catalog:home")
        assert not DataProduct.objects.filter(pk=product.pk).exists()

    def test_it_lets_an_admin_delete(self, client, admin_user, product):
        signed_in(client, admin_user)
        assert client.post(delete_url(product)).status_code == 302
        assert not DataProduct.objects.filter(pk=product.pk).exists()

    def test_it_keeps_a_product_whose_outputs_others_read(self, client, alice, product):
        output = factories.OutputFactory(product=product)
        factories.ProductInputFactory(source_output=output)
        signed_in(client, alice)
        response = client.post(delete_url(product), follow=True)
        assert DataProduct.objects.filter(pk=product.pk).exists()
        assert "cannot be deleted" in response.content.decode()

    def test_it_answers_404_for_an_unknown_section(self, client, bob, product):
        signed_in(client, bob)
        assert client.get(section_url(product, "secrets")).status_code == 404
        assert client.post(section_url(product, "secrets"), {}).status_code == 404

    def test_it_sends_anonymous_visitors_to_sign_in(self, client, product):
        response = client.get(section_url(product, "goals"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_it_enforces_csrf(self, bob, product):
        client = signed_in(Client(enforce_csrf_checks=True), bob)
        response = client.post(section_url(product, "goals"), formset_data("goals", [{"title": "Grow"}]))
        assert response.status_code == 403
        response = client.post(edit_url(product), product_data(product, name="Hijacked"))
        assert response.status_code == 403
        product.refresh_from_db()
        assert product.name == "Cross-sell"
        assert not Goal.objects.exists()


class TestProductForm:
    def test_it_saves_the_products_fields(self, client, bob, product):
        signed_in(client, bob)
        response = client.post(edit_url(product), product_data(product, name="Cross-sell 2", version="1.0.0"))
        assert response.status_code == 302
        assert response["Location"] == product.get_absolute_url()
        product.refresh_from_db()
        assert (product.name, product.version) == ("Cross-sell 2", "1.0.0")

    def test_it_shows_the_owner_field_to_the_owner_only(self, client, alice, bob, product):
        assert 'name="owner"' in signed_in(client, alice).get(edit_url(product)).content.decode()
        assert 'name="owner"' not in signed_in(client, bob).get(edit_url(product)).content.decode()

    def test_it_ignores_an_owner_posted_by_a_steward(self, client, bob, product):
        signed_in(client, bob)
        client.post(edit_url(product), product_data(product, owner=bob.pk))
        product.refresh_from_db()
        assert product.owner.username == "alice"

    def test_the_owner_may_hand_a_draft_to_someone_else(self, client, alice, charlie, draft):
        draft.stewards.clear()
        signed_in(client, alice)
        response = client.post(edit_url(draft), product_data(draft, owner=charlie.pk))
        assert response.status_code == 302
        assert response["Location"] == reverse("catalog:home")
        draft.refresh_from_db()
        assert draft.owner == charlie
        assert client.get(draft.get_absolute_url()).status_code == 404

    def test_it_publishes_a_draft(self, client, alice, draft):
        signed_in(client, alice)
        client.post(edit_url(draft), product_data(draft, status=choices.Status.PUBLISHED))
        draft.refresh_from_db()
        assert draft.status == choices.Status.PUBLISHED

    def test_it_shows_errors_next_to_the_field(self, client, bob, product):
        signed_in(client, bob)
        response = client.post(edit_url(product), product_data(product, version="one", summary="a\x00b"))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'aria-invalid="true"' in html
        assert "Enter a semantic version" in html
        assert "Null characters are not allowed." in html
        product.refresh_from_db()
        assert product.version == "0.1.0"

    def test_it_rolls_back_a_save_that_puts_the_product_out_of_reach(self, client, bob, draft):
        signed_in(client, bob)
        response = client.post(edit_url(draft), product_data(draft, stewards=[]))
        assert response.status_code == 200
        assert "you could no longer see this product" in response.content.decode()
        assert list(draft.stewards.all()) == [bob]


class TestSections:
    def test_it_saves_a_new_goal(self, client, bob, product):
        signed_in(client, bob)
        row = {"title": "Grow cross-sell", "target_value": "15", "target_unit": "%"}
        response = client.post(section_url(product, "goals"), formset_data("goals", [row, {}]))
        assert response.status_code == 302
        assert response["Location"] == product.get_absolute_url()
        goal = product.goals.get()
        assert (goal.title, goal.target_value, goal.target_unit) == ("Grow cross-sell", 15, "%")

    def test_it_changes_and_deletes_goals(self, client, bob, product):
        keep = factories.GoalFactory(product=product, title="Keep")
        drop = factories.GoalFactory(product=product, title="Drop")
        rows = [{"id": keep.pk, "title": "Kept"}, {"id": drop.pk, "title": "Drop", "DELETE": "on"}]
        signed_in(client, bob)
        client.post(section_url(product, "goals"), formset_data("goals", rows, initial=2))
        assert list(product.goals.values_list("title", flat=True)) == ["Kept"]

    def test_one_bad_row_saves_nothing(self, client, bob, product):
        goal = factories.GoalFactory(product=product, title="Old")
        rows = [{"id": goal.pk, "title": "New"}, {"title": "Fine"}, {"title": "Bad\x00"}]
        signed_in(client, bob)
        response = client.post(section_url(product, "goals"), formset_data("goals", rows, initial=1))
        assert response.status_code == 200
        assert "Null characters are not allowed." in response.content.decode()
        assert list(product.goals.values_list("title", flat=True)) == ["Old"]

    def test_it_refuses_a_hand_crafted_hypothesis_on_another_products_goal(self, client, bob, product):
        initiative = factories.InitiativeFactory(product=product)
        other_goal = factories.GoalFactory(product=factories.DataProductFactory(), title="Theirs")
        row = {"title": "Bundles", "goal": other_goal.pk, "initiative": initiative.pk, "statement": "We believe"}
        row["status"] = "proposed"
        signed_in(client, bob)
        response = client.post(section_url(product, "hypotheses"), formset_data("hypotheses", [row]))
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not Hypothesis.objects.exists()

    def test_it_refuses_a_row_of_another_product(self, client, bob, product):
        theirs = factories.GoalFactory(product=factories.DataProductFactory(), title="Theirs")
        signed_in(client, bob)
        response = client.post(
            section_url(product, "goals"), formset_data("goals", [{"id": theirs.pk, "title": "Mine now"}], initial=1)
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        theirs.refresh_from_db()
        assert theirs.title == "Theirs"
        assert not product.goals.exists()

    def test_it_shows_non_form_errors_at_the_top(self, client, bob, product):
        signed_in(client, bob)
        response = client.post(section_url(product, "goals"), formset_data("goals", [{"title": "A"}, {"title": "A"}]))
        assert 'class="form-errors"' in response.content.decode()
        assert not Goal.objects.exists()

    def test_it_edits_the_columns_of_one_output(self, client, bob, product):
        first = factories.OutputFactory(product=product, name="a_orders")
        second = factories.OutputFactory(product=product, name="b_customers")
        signed_in(client, bob)
        url = section_url(product, "columns") + f"?output={second.pk}"
        assert "b_customers" in client.get(url).content.decode()
        row = {"name": "customer_id", "data_type": "string", "role": "key", "classification": "internal", "order": 0}
        row["masking"] = "redact"
        response = client.post(url, formset_data("columns", [row]))
        assert response.status_code == 302
        assert list(second.columns.values_list("name", flat=True)) == ["customer_id"]
        assert not first.columns.exists()

    def test_it_refuses_the_columns_of_another_products_output(self, client, bob, product):
        theirs = factories.OutputFactory()
        signed_in(client, bob)
        url = section_url(product, "columns")
        assert client.get(f"{url}?output={theirs.pk}").status_code == 404
        assert client.get(f"{url}?output=x").status_code == 404
        row = {"name": "c", "data_type": "string", "role": "key", "classification": "internal", "order": 0}
        assert client.post(f"{url}?output={theirs.pk}", formset_data("columns", [row])).status_code == 404
        assert not OutputColumn.objects.exists()

    def test_it_asks_for_an_output_before_columns(self, client, bob, product):
        signed_in(client, bob)
        response = client.get(section_url(product, "columns"))
        assert "Add an output first" in response.content.decode()

    def test_it_renders_no_inline_script_or_style(self, client, bob, product):
        factories.GoalFactory(product=product)
        signed_in(client, bob)
        for url in [edit_url(product), section_url(product, "goals"), section_url(product, "kpis")]:
            html = client.get(url).content.decode()
            assert "style=" not in html
            assert "<script>" not in html and "onclick" not in html
