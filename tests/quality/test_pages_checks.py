"""The checks editor: an output's checks as a formset; bad input names the field and saves nothing."""

import json

import pytest
from django.urls import reverse

from quality.models import Check
from tests import factories
from tests.products.test_forms import formset_data

pytestmark = pytest.mark.django_db

PREFIX = "checks"
ROW = {"name": "rows present", "check_type": "row_count", "severity": "fail", "schedule": "0 * * * *", "enabled": "on"}


@pytest.fixture
def orders(product):
    return factories.OutputFactory(product=product, name="orders")


def checks_url(output, product=None) -> str:
    return reverse("quality:checks", args=[(product or output.product).slug, output.pk])


def existing(check: Check, **changes) -> dict:
    """The row as the editor shows it for ``check``, with ``changes``."""
    row = {
        "id": check.pk,
        "name": check.name,
        "check_type": check.check_type,
        "column": check.column,
        "columns": ", ".join(check.columns),
        "operator": check.operator,
        "threshold": "" if check.threshold is None else check.threshold,
        "threshold_high": "" if check.threshold_high is None else check.threshold_high,
        "severity": check.severity,
        "schedule": check.schedule,
        "params": json.dumps(check.params) if check.params else "",
        "slos": [slo.pk for slo in check.slos.all()],
    }
    if check.enabled:
        row["enabled"] = "on"
    row.update(changes)
    return {key: value for key, value in row.items() if value is not None}


def post(client, output, rows: list[dict], initial: int = 0):
    return client.post(checks_url(output), formset_data(PREFIX, rows, initial))


def snapshot(output) -> list[tuple]:
    return list(Check.objects.filter(output=output).order_by("pk").values_list("pk", "name", "threshold", "schedule"))


def field_error(response, index: int, field: str) -> str:
    """The first error shown under a row's field, as the page draws it."""
    html = response.content.decode()
    marker = f'id="id_{PREFIX}-{index}-{field}_error1">'
    assert marker in html, f"no error under {field}"
    start = html.index(marker) + len(marker)
    return html[start : html.index("</p>", start)]


class TestWhoMayEdit:
    def test_it_hides_a_drafts_checks_from_outsiders(self, client, charlie, draft):
        output = factories.OutputFactory(product=draft)
        client.force_login(charlie)
        assert client.get(checks_url(output)).status_code == 404
        assert post(client, output, [ROW]).status_code == 404
        assert not Check.objects.exists()

    def test_it_refuses_outsiders_on_a_published_product(self, client, charlie, orders):
        client.force_login(charlie)
        assert client.get(checks_url(orders)).status_code == 403
        assert post(client, orders, [ROW]).status_code == 403
        assert not Check.objects.exists()

    @pytest.mark.parametrize("person", ["alice", "bob", "admin_user"])
    def test_owners_stewards_and_admins_open_it(self, client, request, person, orders):
        client.force_login(request.getfixturevalue(person))
        response = client.get(checks_url(orders))
        assert response.status_code == 200
        assert 'name="checks-0-params"' in response.content.decode()

    def test_an_output_of_another_product_is_not_found_under_this_one(self, client, bob, product):
        other = factories.OutputFactory(product=factories.DataProductFactory(slug="other", stewards=[bob]))
        client.force_login(bob)
        assert client.get(checks_url(other, product)).status_code == 404


class TestSaving:
    def test_a_steward_adds_a_check_with_the_types_defaults(self, client, bob, orders):
        client.force_login(bob)
        response = post(client, orders, [ROW])
        assert response.status_code == 302
        assert response["Location"] == f"{orders.product.get_absolute_url()}#quality"
        check = Check.objects.get()
        assert (check.product, check.output, check.operator, check.threshold) == (orders.product, orders, "gt", 0)

    def test_columns_are_typed_with_commas_and_params_as_json(self, client, bob, orders):
        client.force_login(bob)
        rows = [
            {**ROW, "name": "keys unique", "check_type": "duplicate_count", "columns": "order_id, line_no"},
            {**ROW, "name": "status known", "check_type": "invalid_count", "column": "status",
             "params": '{"allowed_values": ["ok", "late"]}'},
        ]  # fmt: skip
        assert post(client, orders, rows).status_code == 302
        assert Check.objects.get(name="keys unique").columns == ["order_id", "line_no"]
        assert Check.objects.get(name="status known").params == {"allowed_values": ["ok", "late"]}
        page = client.get(checks_url(orders)).content.decode()
        assert 'value="order_id, line_no"' in page
        assert "{&quot;allowed_values&quot;: [&quot;ok&quot;, &quot;late&quot;]}" in page

    def test_a_steward_changes_and_deletes_checks(self, client, bob, orders):
        slo = factories.SLOFactory(product=orders.product)
        keep = factories.CheckFactory(output=orders, name="rows present")
        drop = factories.CheckFactory(output=orders, name="old")
        client.force_login(bob)
        rows = [existing(keep, threshold="100", slos=[slo.pk]), existing(drop, DELETE="on")]
        assert post(client, orders, rows, initial=2).status_code == 302
        keep.refresh_from_db()
        assert keep.threshold == 100
        assert list(keep.slos.all()) == [slo]
        assert not Check.objects.filter(pk=drop.pk).exists()

    def test_the_blank_new_row_as_the_page_draws_it_is_left_out(self, client, bob, orders):
        check = factories.CheckFactory(output=orders, name="rows present")
        client.force_login(bob)
        page = client.get(checks_url(orders)).content.decode()
        assert '<option value="" selected>---------</option>' in page  # a new row starts without a type
        blank = {"check_type": "", "columns": "", "params": "", "severity": "fail", "schedule": "0 * * * *",
                 "enabled": "on"}  # fmt: skip
        response = post(client, orders, [existing(check, threshold="3"), blank], initial=1)
        assert response.status_code == 302
        assert Check.objects.get().threshold == 3

    def test_it_records_the_product_as_changed(self, client, bob, orders):
        before = orders.product.updated
        client.force_login(bob)
        post(client, orders, [ROW])
        orders.product.refresh_from_db()
        assert orders.product.updated > before


class TestBadInput:
    def test_bad_json_in_params_names_the_field_and_saves_nothing(self, client, bob, orders):
        client.force_login(bob)
        response = post(client, orders, [{**ROW, "params": '{"max_age_hours": 24'}])
        assert response.status_code == 200
        assert field_error(response, 0, "params").startswith("params is not valid JSON")
        assert "Nothing was saved." in response.content.decode()
        assert "{&quot;max_age_hours&quot;: 24</textarea>" in response.content.decode()  # what was typed stays
        assert not Check.objects.exists()

    def test_a_bad_cron_is_an_error_next_to_the_schedule(self, client, bob, orders):
        client.force_login(bob)
        response = post(client, orders, [{**ROW, "schedule": "every hour"}])
        assert "A cron schedule has 5 fields" in field_error(response, 0, "schedule")
        response = post(client, orders, [{**ROW, "schedule": "61 * * * *"}])
        assert field_error(response, 0, "schedule").startswith("minute &#x27;61&#x27; is not valid")
        assert not Check.objects.exists()

    def test_the_models_rules_land_on_their_fields(self, client, bob, orders):
        client.force_login(bob)
        response = post(client, orders, [{**ROW, "check_type": "missing_count"}])
        assert field_error(response, 0, "column") == "A missing_count check needs a column."
        response = post(client, orders, [{**ROW, "operator": "between", "threshold": "5"}])
        assert field_error(response, 0, "threshold_high") == "&#x27;between&#x27; needs an upper bound."
        assert not Check.objects.exists()

    def test_one_bad_row_saves_nothing(self, client, bob, orders):
        check = factories.CheckFactory(output=orders, name="rows present")
        before = snapshot(orders)
        client.force_login(bob)
        rows = [existing(check, threshold="7"), {**ROW, "name": "fresh", "check_type": "freshness", "schedule": "x"}]
        response = post(client, orders, rows, initial=1)
        assert response.status_code == 200
        assert snapshot(orders) == before

    def test_a_duplicate_name_is_refused(self, client, bob, orders):
        factories.CheckFactory(output=orders, name="rows present")
        client.force_login(bob)
        existing_row = existing(Check.objects.get())
        response = post(client, orders, [existing_row, ROW], initial=1)
        assert response.status_code == 200
        assert Check.objects.count() == 1

    def test_a_check_may_measure_only_its_own_products_slos(self, client, bob, orders):
        foreign = factories.SLOFactory(product=factories.DataProductFactory(slug="other", stewards=[bob]))
        client.force_login(bob)
        response = post(client, orders, [{**ROW, "slos": [foreign.pk]}])
        assert "Select a valid choice" in field_error(response, 0, "slos")
        assert not Check.objects.exists()

    def test_a_check_of_another_output_cannot_be_edited_from_here(self, client, bob, orders, product):
        other = factories.CheckFactory(output=factories.OutputFactory(product=product), name="elsewhere")
        client.force_login(bob)
        response = post(client, orders, [existing(other, name="hijacked")], initial=1)
        assert response.status_code == 200
        other.refresh_from_db()
        assert other.name == "elsewhere"


class TestCustomSQL:
    SQL_ROW = {**ROW, "name": "no refunds", "check_type": "custom_sql",
               "params": '{"sql": "SELECT count(*) FROM {table}"}'}  # fmt: skip

    def test_it_is_not_offered_to_stewards(self, client, bob, orders):
        client.force_login(bob)
        assert 'value="custom_sql"' not in client.get(checks_url(orders)).content.decode()
        response = post(client, orders, [self.SQL_ROW])
        assert "Select a valid choice" in field_error(response, 0, "check_type")
        assert not Check.objects.exists()

    def test_admins_write_it(self, client, admin_user, orders):
        client.force_login(admin_user)
        assert 'value="custom_sql"' in client.get(checks_url(orders)).content.decode()
        assert post(client, orders, [self.SQL_ROW]).status_code == 302
        assert Check.objects.get().check_type == "custom_sql"

    def test_a_steward_can_neither_change_nor_delete_it(self, client, bob, orders):
        check = factories.CheckFactory(
            output=orders, name="no refunds", check_type="custom_sql", params={"sql": "SELECT 0"}
        )
        before = snapshot(orders)
        client.force_login(bob)
        page = client.get(checks_url(orders)).content.decode()
        assert "Custom SQL checks are changed and deleted by admins only." in page
        assert 'name="checks-0-DELETE"' not in page
        assert 'name="checks-0-name"' in page and "disabled" in page
        post(client, orders, [existing(check, name="renamed", threshold="5", DELETE="on")], initial=1)
        assert snapshot(orders) == before

    def test_an_admin_deletes_it(self, client, admin_user, orders):
        check = factories.CheckFactory(output=orders, check_type="custom_sql", params={"sql": "SELECT 0"})
        client.force_login(admin_user)
        assert post(client, orders, [existing(check, DELETE="on")], initial=1).status_code == 302
        assert not Check.objects.exists()
