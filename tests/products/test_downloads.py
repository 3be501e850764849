"""Downloads stream in batches; CSV cells are spreadsheet-safe; the canary never reaches a masked reader."""

from __future__ import annotations

import csv
import io
import logging

import pyarrow.parquet as pq
import pytest
from django.contrib.auth.models import Group
from django.http import StreamingHttpResponse
from django.urls import reverse
from guardian.shortcuts import assign_perm

from products import delivery
from products.demo.datasets import CANARY_EMAIL, CANARY_NAME, CANARY_PHONE
from products.models import RowFilter
from tests import factories
from tests.products import delivery_data
from tests.products.delivery_data import ground_truth

pytestmark = pytest.mark.django_db
# The shared fixtures (tests/products/delivery_data.py), made visible to this module's tests.
any_sales = delivery_data.any_sales
pg_scratch = delivery_data.pg_scratch
sales = delivery_data.sales

CANARIES = [CANARY_EMAIL, CANARY_PHONE, "canary.pii"]


def url(output, name: str) -> str:
    return reverse(f"products:{name}", kwargs={"slug": output.product.slug, "name": output.name})


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


class TestStreaming:
    @pytest.mark.parametrize("name", ["output-download-csv", "output-download-parquet"])
    def test_a_multi_batch_output_streams_in_several_chunks(self, client, alice, sales, monkeypatch, name):
        monkeypatch.setattr(delivery, "BATCH_ROWS", 5)  # 12 rows: three batches
        client.force_login(alice)
        response = client.get(url(sales, name))
        assert isinstance(response, StreamingHttpResponse)
        chunks = [chunk for chunk in response.streaming_content if chunk]
        assert len(chunks) >= 3
        assert response["Content-Disposition"] == f'attachment; filename="cross-sell-sales.{name.rsplit("-", 1)[1]}"'

    def test_csv_has_the_rows_in_the_source_order(self, client, alice, any_sales):
        client.force_login(alice)
        rows = csv_rows(b"".join(client.get(url(any_sales, "output-download-csv")).streaming_content))
        assert [int(row["order_id"]) for row in rows] == ground_truth(any_sales)
        assert list(rows[0]) == ["order_id", "email", "phone", "region", "amount"]

    def test_parquet_has_the_rows_and_masked_columns_as_text(self, client, bob, any_sales):
        client.force_login(bob)
        data = b"".join(client.get(url(any_sales, "output-download-parquet")).streaming_content)
        table = pq.read_table(io.BytesIO(data))
        assert sorted(table.column("order_id").to_pylist()) == ground_truth(any_sales)
        assert "c***@example.com" in table.column("email").to_pylist()

    def test_a_cell_that_starts_a_formula_is_neutralised(self, client, alice, sales):
        client.force_login(alice)
        rows = csv_rows(b"".join(client.get(url(sales, "output-download-csv")).streaming_content))
        formula = next(row for row in rows if row["order_id"] == "3")
        assert formula["email"] == "'=cmd|' /C calc'!A0"
        assert formula["amount"] == "-3"  # a negative number stays a number

    def test_no_rows_still_gives_the_header_and_the_schema(self, client, charlie, sales):
        assign_perm("products.read_output", charlie, sales)
        RowFilter.objects.create(output=sales, group=Group.objects.create(name="Other"), column="region", values=["X"])
        client.force_login(charlie)
        csv_data = b"".join(client.get(url(sales, "output-download-csv")).streaming_content)
        assert csv_data.decode().strip() == '"order_id","email","phone","region","amount"'
        parquet = b"".join(client.get(url(sales, "output-download-parquet")).streaming_content)
        table = pq.read_table(io.BytesIO(parquet))
        assert table.num_rows == 0 and table.column_names == ["order_id", "email", "phone", "region", "amount"]


# --- The canary --------------------------------------------------------------------------------


@pytest.fixture
def masked_reader(charlie, sales):
    assign_perm("products.read_output", charlie, sales)
    return charlie


def assert_no_canary(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


class TestCanary:
    """A reader without read_output_unmasked never sees the canary person in clear, on any path."""

    def test_not_in_the_preview(self, client, masked_reader, sales, caplog):
        client.force_login(masked_reader)
        with caplog.at_level(logging.DEBUG):
            html = client.get(url(sales, "output-preview") + "?fragment=1").content.decode()
            page = client.get(url(sales, "output-preview")).content.decode()
        assert "c***@example.com" in html
        assert_no_canary(html + page + caplog.text)

    def test_not_in_the_downloads(self, client, masked_reader, sales, caplog):
        client.force_login(masked_reader)
        with caplog.at_level(logging.DEBUG):
            csv_data = b"".join(client.get(url(sales, "output-download-csv")).streaming_content)
            parquet = b"".join(client.get(url(sales, "output-download-parquet")).streaming_content)
        assert_no_canary(csv_data.decode())
        table = pq.read_table(io.BytesIO(parquet))
        assert_no_canary(repr(table.to_pylist()))
        for canary in CANARIES:
            assert canary.encode() not in parquet
        assert_no_canary(caplog.text)

    def test_not_in_the_api(self, api, masked_reader, sales, caplog):
        client = api(masked_reader)
        with caplog.at_level(logging.DEBUG):
            page = client.get(f"/api/v1/outputs/{sales.pk}/data/").content.decode()
            streamed = b"".join(client.get(f"/api/v1/outputs/{sales.pk}/data/?format=csv").streaming_content)
        assert "c***@example.com" in page
        assert_no_canary(page + streamed.decode() + caplog.text)

    @pytest.mark.parametrize(
        "query",
        [
            {"filter": f"email:{CANARY_EMAIL}"},
            {"sort": "email"},
            {"filter": f"nope:{CANARY_EMAIL}"},
            {"columns": "email", "limit": "x"},
        ],
    )
    def test_not_in_error_bodies_or_logs(self, api, masked_reader, sales, query, caplog):
        with caplog.at_level(logging.DEBUG):
            response = api(masked_reader).get(f"/api/v1/outputs/{sales.pk}/data/", query)
        assert response.status_code == 400
        assert_no_canary(response.content.decode() + caplog.text)

    def test_not_when_the_source_fails(self, client, masked_reader, sales, caplog):
        (sales.truth_path.parent / "sales" / "sales.parquet").write_text(f"not parquet {CANARY_EMAIL}")
        client.force_login(masked_reader)
        with caplog.at_level(logging.DEBUG):
            response = client.get(url(sales, "output-preview") + "?fragment=1")
        assert response.status_code == 409
        assert_no_canary(response.content.decode() + caplog.text)

    def test_the_demo_canary_is_one_person(self):
        assert (CANARY_EMAIL, CANARY_NAME.startswith("Canary Pii")) == ("canary.pii@example.com", True)


def test_the_product_page_offers_preview_and_downloads_to_readers_only(client, alice, charlie, sales):
    client.force_login(alice)
    html = client.get(sales.product.get_absolute_url()).content.decode()
    assert url(sales, "output-preview") in html
    assert url(sales, "output-download-csv") in html
    assert url(sales, "output-row-filters") in html
    client.force_login(charlie)
    html = client.get(sales.product.get_absolute_url()).content.decode()
    assert url(sales, "output-download-csv") not in html
    assert 'href="#access">Request access' in html
    assert CANARY_EMAIL not in html


def test_the_product_page_never_opens_a_source(client, alice, product, monkeypatch):
    output = factories.OutputFactory(product=product, name="missing_file")
    factories.OutputColumnFactory(output=output, name="a")

    def refuse(*args, **kwargs):
        raise AssertionError("the product page opened a data source")

    monkeypatch.setattr(delivery, "open_source", refuse)
    client.force_login(alice)
    assert client.get(product.get_absolute_url()).status_code == 200


class TestFilteredPreview:
    """``?filter=column:value`` narrows the preview: the drill-down of a KPI breakdown."""

    def test_only_the_chosen_rows(self, client, alice, sales):
        client.force_login(alice)
        everything = client.get(url(sales, "output-preview")).content.decode()
        page = client.get(url(sales, "output-preview"), {"filter": "region:South"}).content.decode()
        assert ">North<" in everything and "Rows where" not in everything
        assert "Rows where" in page and ">South<" in page
        assert page.count("<tr") - 1 == 3  # the header row, then South's three orders
        assert ">North<" not in page

    def test_a_bad_filter_is_refused_naming_it(self, client, alice, sales):
        client.force_login(alice)
        response = client.get(url(sales, "output-preview"), {"filter": "colour:red"})
        assert response.status_code == 400
        assert "colour" in response.content.decode()

    def test_a_filter_never_widens_a_row_filter(self, client, charlie, sales):
        group = Group.objects.create(name="North readers")
        charlie.groups.add(group)
        assign_perm("read_output", charlie, sales)
        RowFilter.objects.create(output=sales, group=group, column="region", values=["North"])
        client.force_login(charlie)
        page = client.get(url(sales, "output-preview"), {"filter": "region:South"}).content.decode()
        assert ">South<" not in page and ">North<" not in page
