"""The demo's row filter: the North sales team (nora) reads sales-intelligence/orders masked, North only."""

import io

import duckdb
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from products import delivery
from products.demo.datasets import CANARY_EMAIL
from products.models import Output
from utilities.paths import resolve_data_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(data_root) -> Output:
    call_command("seed_demo", "--rows", "500", stdout=io.StringIO())
    return Output.objects.get(product__slug="sales-intelligence", name="orders")


def test_nora_reads_the_north_orders_masked(orders):
    nora = get_user_model().objects.get(username="nora")
    read_plan = delivery.plan(nora, orders, sort="order_id")
    assert read_plan.level == "masked" and read_plan.row_filtered
    rows = [row for batch in delivery.RowStream(read_plan, delivery.API) for row in delivery.rows_as_dicts(batch)]
    with duckdb.connect() as db:
        sql = "SELECT order_id FROM read_parquet(?) WHERE region = 'North' ORDER BY order_id"
        expected = [row[0] for row in db.execute(sql, [str(resolve_data_path(orders.path))]).fetchall()]
    assert [row["order_id"] for row in rows] == expected
    assert {row["region"] for row in rows} == {"North"}
    assert CANARY_EMAIL not in repr(rows)


def test_seeding_again_keeps_one_rule(orders):
    call_command("seed_demo", "--rows", "500", stdout=io.StringIO())
    assert orders.row_filters.count() == 1
