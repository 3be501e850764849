"""The row-filter editor: access managers only; saved all together; bad input names the field and changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from guardian.shortcuts import assign_perm

from products.models import RowFilter
from tests import factories
from tests.products import delivery_data

pytestmark = pytest.mark.django_db
# The shared fixtures (tests/products/delivery_data.py), made visible to this module's tests.
sales = delivery_data.sales


def editor_url(output) -> str:
    return reverse("products:output-row-filters", kwargs={"slug": output.product.slug, "name": output.name})


def form_data(*rows: dict, initial: int = 0) -> dict:
    data = {
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": str(initial),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"form-{index}-{key}": value for key, value in row.items()})
    return data


@pytest.fixture
def north(charlie):
    group = Group.objects.create(name="North sales team")
    group.user_set.add(charlie)
    return group


class TestWhoMayEdit:
    def test_the_owner_edits(self, client, alice, sales):
        client.force_login(alice)
        response = client.get(editor_url(sales))
        assert response.status_code == 200
        assert "Row filters of" in response.content.decode()

    def test_a_steward_without_manage_access_is_refused(self, client, bob, sales):
        client.force_login(bob)
        assert client.get(editor_url(sales)).status_code == 403

    def test_a_steward_trusted_with_manage_access_edits(self, client, bob, sales):
        assign_perm("manage_access", bob, sales.product)
        client.force_login(bob)
        assert client.get(editor_url(sales)).status_code == 200

    def test_an_outsider_is_refused_and_a_draft_is_not_found(self, client, charlie, sales, draft):
        client.force_login(charlie)
        assert client.get(editor_url(sales)).status_code == 403
        hidden = factories.OutputFactory(product=draft, name="hidden")
        assert client.get(editor_url(hidden)).status_code == 404

    def test_an_unknown_output_is_not_found(self, client, alice, product):
        client.force_login(alice)
        url = reverse("products:output-row-filters", kwargs={"slug": product.slug, "name": "nope"})
        assert client.get(url).status_code == 404


class TestSaving:
    def test_it_saves_a_group_rule_and_a_user_rule(self, client, alice, charlie, north, sales):
        client.force_login(alice)
        data = form_data(
            {"group_name": "North sales team", "column": "region", "values_text": "North"},
            {"username": "charlie", "column": "order_id", "values_text": "3, 7\n9\n3"},
        )
        response = client.post(editor_url(sales), data)
        assert response.status_code == 302
        rules = list(RowFilter.objects.order_by("id"))
        assert [(r.group, r.user, r.column, r.values) for r in rules] == [
            (north, None, "region", ["North"]),
            (None, charlie, "order_id", ["3", "7", "9"]),
        ]

    def test_it_changes_and_deletes_rules(self, client, alice, charlie, north, sales):
        rule = RowFilter.objects.create(output=sales, group=north, column="region", values=["North"])
        other = RowFilter.objects.create(output=sales, user=charlie, column="region", values=["East"])
        client.force_login(alice)
        data = form_data(
            {"id": rule.pk, "group_name": "North sales team", "column": "region", "values_text": "North,East"},
            {"id": other.pk, "username": "charlie", "column": "region", "values_text": "East", "DELETE": "on"},
            initial=2,
        )
        assert client.post(editor_url(sales), data).status_code == 302
        assert list(RowFilter.objects.values_list("values", flat=True)) == [["North", "East"]]

    @pytest.mark.parametrize(
        "row, field, message",
        [
            ({"username": "nobody", "column": "region", "values_text": "North"}, "username", "No user is called"),
            ({"group_name": "Nobody", "column": "region", "values_text": "North"}, "group_name", "No group is called"),
            (
                {"username": "charlie", "group_name": "North sales team", "column": "region", "values_text": "N"},
                "username",
                "either a user or a group",
            ),
            ({"column": "region", "values_text": "North"}, "username", "either a user or a group"),
            ({"username": "charlie", "column": "nope", "values_text": "North"}, "column", "Select a valid choice"),
            ({"username": "charlie", "column": "region", "values_text": " , \n"}, "values_text", "at least one"),
            ({"username": "charlie", "column": "region", "values_text": "x" * 201}, "values_text", "at most 200"),
            (
                {"username": "charlie", "column": "region", "values_text": ",".join(map(str, range(1001)))},
                "values_text",
                "At most 1000",
            ),
        ],
    )
    def test_bad_input_names_the_field_and_saves_nothing(self, client, alice, north, sales, row, field, message):
        good = {"group_name": "North sales team", "column": "region", "values_text": "North"}
        client.force_login(alice)
        response = client.post(editor_url(sales), form_data(good, row))
        assert response.status_code == 400
        form = response.context["formset"].forms[1]
        assert field in form.errors
        assert message in str(form.errors[field])
        assert "Nothing was saved" in response.content.decode()
        assert not RowFilter.objects.exists()

    def test_a_rule_of_another_output_cannot_be_edited_from_here(self, client, alice, charlie, sales, product):
        elsewhere = factories.OutputFactory(product=product, name="elsewhere")
        factories.OutputColumnFactory(output=elsewhere, name="region")
        foreign = RowFilter.objects.create(output=elsewhere, user=charlie, column="region", values=["West"])
        client.force_login(alice)
        data = form_data(
            {"id": foreign.pk, "username": "charlie", "column": "region", "values_text": "North"}, initial=1
        )
        client.post(editor_url(sales), data)  # a row outside the formset's own rules is ignored (Django)
        foreign.refresh_from_db()
        assert foreign.values == ["West"]
        assert list(RowFilter.objects.all()) == [foreign]
