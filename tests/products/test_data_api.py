"""GET /api/v1/outputs/<id>/data/: pages of JSON or streamed CSV, masked and row-filtered; bad parameters named."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.http import StreamingHttpResponse
from guardian.shortcuts import assign_perm

from access.masking import mask_value
from products import delivery
from products.demo.datasets import CANARY_EMAIL, CANARY_PHONE
from products.models import RowFilter
from tests.products import delivery_data
from tests.products.delivery_data import ground_truth

pytestmark = pytest.mark.django_db
# The shared fixtures (tests/products/delivery_data.py), made visible to this module's tests.
any_sales = delivery_data.any_sales
pg_scratch = delivery_data.pg_scratch
sales = delivery_data.sales


def data_url(output) -> str:
    return f"/api/v1/outputs/{output.pk}/data/"


@pytest.fixture
def north_reader(charlie, sales):
    assign_perm("products.read_output", charlie, sales)
    group = Group.objects.create(name="North sales team")
    group.user_set.add(charlie)
    RowFilter.objects.create(output=sales, group=group, column="region", values=["North"])
    return charlie


class TestJSON:
    def test_a_page_of_rows_with_its_columns(self, api, bob, sales):
        response = api(bob).get(data_url(sales), {"limit": 5, "sort": "order_id"})
        assert response.status_code == 200
        page = response.json()
        assert page["count"] == 12
        assert page["masked"] is True and page["row_filtered"] is False
        assert page["columns"][1] == {"name": "email", "data_type": "string", "masked": True}
        assert page["columns"][3] == {"name": "region", "data_type": "string", "masked": False}
        assert [row["order_id"] for row in page["results"]] == [1, 2, 3, 4, 5]
        assert page["results"][1]["phone"] == mask_value(CANARY_PHONE, "hash")
        assert page["previous"] is None
        assert "offset=5" in page["next"]

    def test_next_and_previous_walk_the_pages(self, api, alice, sales):
        client = api(alice)
        second = client.get(data_url(sales), {"limit": 5, "offset": 5, "sort": "order_id"}).json()
        assert [row["order_id"] for row in second["results"]] == [6, 7, 8, 9, 10]
        last = client.get(second["next"]).json()
        assert [row["order_id"] for row in last["results"]] == [11, 12]
        assert last["next"] is None
        assert "offset=5" in last["previous"]

    def test_columns_sort_and_filters(self, api, alice, sales):
        query = {"columns": "order_id,region", "sort": "-amount", "filter": ["region:North"]}
        page = api(alice).get(data_url(sales), query).json()
        assert [c["name"] for c in page["columns"]] == ["order_id", "region"]
        assert [row["order_id"] for row in page["results"]] == ground_truth(
            sales, "region = 'North'", order="amount DESC"
        )
        assert set(page["results"][0]) == {"order_id", "region"}

    def test_repeated_filters_are_anded(self, api, alice, sales):
        query = {"filter": ["region:North", "amount:25.5"]}
        page = api(alice).get(data_url(sales), query).json()
        assert [row["order_id"] for row in page["results"]] == [2]

    def test_the_default_limit_is_100(self, api, alice, sales):
        assert len(api(alice).get(data_url(sales)).json()["results"]) == 12

    def test_a_row_filtered_reader_counts_and_reads_only_their_rows(self, api, north_reader, sales):
        page = api(north_reader).get(data_url(sales), {"sort": "order_id"}).json()
        expected = ground_truth(sales, "region = 'North'")
        assert page["row_filtered"] is True
        assert page["count"] == len(expected)
        assert [row["order_id"] for row in page["results"]] == expected

    def test_a_reader_no_rule_names_gets_an_empty_page(self, api, django_user_model, north_reader, sales):
        dora = django_user_model.objects.create(username="dora")
        assign_perm("products.read_output", dora, sales)
        page = api(dora).get(data_url(sales)).json()
        assert page["count"] == 0 and page["results"] == [] and page["row_filtered"] is True


class TestCSV:
    def test_format_csv_streams_the_rows(self, api, bob, sales):
        response = api(bob).get(data_url(sales), {"format": "csv", "sort": "order_id"})
        assert response.status_code == 200
        assert isinstance(response, StreamingHttpResponse)
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert [int(row["order_id"]) for row in rows] == ground_truth(sales)
        assert rows[1]["email"] == "c***@example.com"

    def test_an_error_asked_for_as_csv_is_answered_in_json(self, api, alice, sales):
        response = api(alice).get(data_url(sales), {"format": "csv", "limit": "abc"})
        assert response.status_code == 400
        assert response.json() == {"limit": "limit must be a whole number."}


class TestBadParameters:
    @pytest.mark.parametrize(
        "query, parameter",
        [
            ({"limit": "-1"}, "limit"),
            ({"limit": "0"}, "limit"),
            ({"limit": "10001"}, "limit"),
            ({"limit": "1e3"}, "limit"),
            ({"offset": "abc"}, "offset"),
            ({"offset": "-5"}, "offset"),
            ({"format": "xml"}, "format"),
            ({"columns": "region) OR (1=1"}, "columns"),
            ({"columns": "order_id,secret"}, "columns"),
            ({"sort": "region; DROP TABLE products_output"}, "sort"),
            ({"sort": "nope"}, "sort"),
            ({"filter": "region"}, "filter"),
            ({"filter": "nope:1"}, "filter"),
        ],
    )
    def test_it_names_the_parameter(self, api, north_reader, sales, query, parameter):
        response = api(north_reader).get(data_url(sales), query)
        assert response.status_code == 400
        assert list(response.json()) == [parameter]

    @pytest.mark.parametrize(
        "query",
        [
            {"filter": "region:North' OR 1=1 --"},
            {"filter": "region:South"},
            {"filter": "order_id:1) OR (1=1"},
            {"sort": "-region", "filter": "region:North"},
        ],
    )
    def test_injection_never_adds_a_row(self, api, north_reader, sales, query):
        response = api(north_reader).get(data_url(sales), query)
        assert response.status_code == 200
        allowed = set(ground_truth(sales, "region = 'North'"))
        assert {row["order_id"] for row in response.json()["results"]} <= allowed

    @pytest.mark.parametrize("query", [{"sort": "email"}, {"sort": "-phone"}, {"filter": f"email:{CANARY_EMAIL}"}])
    def test_sorting_or_filtering_on_a_masked_column_is_refused(self, api, bob, sales, query):
        response = api(bob).get(data_url(sales), query)
        assert response.status_code == 400
        assert "masked" in response.content.decode()
        assert CANARY_EMAIL not in response.content.decode()


class TestAccess:
    def test_no_access_is_403_with_a_hint(self, api, charlie, sales):
        response = api(charlie).get(data_url(sales))
        assert response.status_code == 403
        assert "Request access" in response.json()["detail"]

    def test_anonymous_is_refused(self, api, sales):
        assert api(None).get(data_url(sales)).status_code in (401, 403)

    def test_an_unknown_output_is_404(self, api, alice):
        assert api(alice).get("/api/v1/outputs/999999/data/").status_code == 404

    def test_it_reads_every_backend(self, api, alice, any_sales):
        page = api(alice).get(data_url(any_sales), {"sort": "order_id"}).json()
        assert [row["order_id"] for row in page["results"]] == ground_truth(any_sales)
        assert page["results"][1]["email"] == CANARY_EMAIL


class TestStablePages:
    def test_pages_without_a_sort_follow_the_key_column_on_every_backend(self, api, alice, any_sales):
        client = api(alice)
        first = client.get(data_url(any_sales), {"limit": 5}).json()["results"]
        second = client.get(data_url(any_sales), {"limit": 5, "offset": 5}).json()["results"]
        assert [row["order_id"] for row in first + second] == ground_truth(any_sales)[:10]

    def test_a_masked_key_column_gives_no_order(self, alice, sales):
        sales.columns.filter(name="order_id").update(classification="pii")
        steward = sales.product.stewards.get()
        read_plan = delivery.in_key_order(delivery.plan(steward, sales))
        assert read_plan.order == []
        assert delivery.in_key_order(delivery.plan(alice, sales)).order == [("order_id", False)]
