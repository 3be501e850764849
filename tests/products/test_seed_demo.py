"""``manage.py seed_demo``: the demo organisation, its products and their Parquet outputs."""

import io
import re
from datetime import timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from products.choices import KPILevel, Status
from products.demo import datasets, specs
from products.models import DataProduct, Domain, Output, ProductInput, Team
from utilities.paths import resolve_data_path

ROWS = 2000
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PUBLISHED = {"retail-cross-sell", "product-engagement", "sales-intelligence"}

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--rows", str(ROWS), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(data_root) -> str:
    """The demo, seeded once into the test's own data root (conftest points LODESTAR_DATA_ROOT at tmp_path)."""
    return seed()


def user(username: str):
    return get_user_model().objects.get(username=username)


def read(output: Output) -> pd.DataFrame:
    return pd.read_parquet(output_path(output))


def output_path(output: Output):
    return resolve_data_path(output.path)


def row_counts() -> dict[str, int]:
    """Rows in every table of our apps, auth and guardian, m2m tables included."""
    labels = {"auth", "products", "guardian"}
    tables = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in labels:
            tables[model._meta.label] = model._default_manager.count()
    return tables


# --- People ---------------------------------------------------------------------------------


def test_it_creates_the_demo_people_teams_and_domains(seeded):
    admin, steward, pm = user("admin"), user("steward"), user("pm")
    assert admin.is_superuser and admin.is_staff
    assert not steward.is_superuser and not pm.is_staff
    assert pm.groups.filter(name="Product managers").exists()
    assert all(u.check_password("lodestar") for u in (admin, steward, pm, user("alice"), user("bob")))
    assert "password: lodestar" in seeded
    for username in ("admin", "steward", "pm", "alice", "bob"):
        assert re.search(rf"^\s+{username}\s", seeded, re.M)
    assert set(Domain.objects.values_list("name", flat=True)) >= {"Sales", "Marketing", "Product"}
    teams = {"Sales operations", "Marketing", "Growth", "Product analytics"}
    assert set(Team.objects.values_list("name", flat=True)) >= teams
    assert user("alice").teams.filter(name="Sales operations").exists()


def test_the_password_option_sets_every_demo_password(data_root):
    output = seed("--password", "s3cret-demo-pass")
    assert "password: s3cret-demo-pass" in output
    assert user("admin").check_password("s3cret-demo-pass")
    assert user("pm").check_password("s3cret-demo-pass")
    assert not user("steward").check_password("lodestar")


# --- Products -------------------------------------------------------------------------------


def test_it_publishes_three_products_and_keeps_one_draft(seeded):
    statuses = dict(DataProduct.objects.values_list("slug", "status"))
    assert statuses == {**dict.fromkeys(PUBLISHED, Status.PUBLISHED), "churn-early-warning": Status.DRAFT}
    assert DataProduct.objects.get(slug="churn-early-warning").owner.username == "pm"
    assert "churn-early-warning" in DataProduct.objects.restrict(user("pm"), "view").values_list("slug", flat=True)


def test_the_steward_stewards_two_published_products_and_cannot_see_the_draft(seeded):
    steward = user("steward")
    stewarded = DataProduct.objects.filter(stewards=steward)
    assert stewarded.count() == 2
    assert all(product.status == Status.PUBLISHED for product in stewarded)
    for product in stewarded:  # the signals granted the object permissions
        assert steward.has_perm("products.change_dataproduct", product)
    visible = set(DataProduct.objects.restrict(steward, "view").values_list("slug", flat=True))
    assert visible == PUBLISHED


def test_every_published_product_has_a_complete_spec(seeded):
    for product in DataProduct.objects.filter(slug__in=PUBLISHED):
        assert product.summary and product.vision and product.version.count(".") == 2
        assert product.tags.exists() and product.stewards.exists() and product.consumer_teams.exists()
        assert product.goals.exclude(target_value=None).exclude(target_date=None).count() >= 3
        assert all(initiative.goals.exists() for initiative in product.initiatives.all())
        assert product.hypotheses.count() >= 3
        assert all(use_case.hypotheses.exists() for use_case in product.use_cases.filter(priority="high"))
        assert product.usage_patterns.exists()
        assert {slo.category for slo in product.slos.all()} == {"architecture", "quality", "governance"}
        assert product.slos.exclude(kpi=None).exists()
        assert product.inputs.exists()


def test_every_published_product_has_a_kpi_tree_over_real_columns(seeded):
    for product in DataProduct.objects.filter(slug__in=PUBLISHED):
        assert product.north_star is not None and product.north_star.level == KPILevel.NORTH_STAR
        kpis = list(product.kpis.all())
        assert len(kpis) >= 6
        assert {kpi.level for kpi in kpis} == set(KPILevel.values)
        for kpi in kpis:
            assert (kpi.parent is None) == (kpi.level == KPILevel.NORTH_STAR), kpi.name
            columns = set(kpi.output.columns.values_list("name", flat=True))
            assert {kpi.column, kpi.denominator_column, kpi.time_column} - {""} <= columns, kpi.name
            assert kpi.unit and kpi.owner and kpi.definition, kpi.name


def test_retail_cross_sell_reads_the_sales_order_lines(seeded):
    retail = DataProduct.objects.get(slug="retail-cross-sell")
    sales = DataProduct.objects.get(slug="sales-intelligence")
    assert sales.pk in retail.upstream_products()
    assert retail in sales.downstream_products()
    externals = set(ProductInput.objects.filter(kind="external").values_list("external_name", flat=True))
    assert {"Shopify orders export", "Web/mobile event collector"} <= externals


# --- Data -----------------------------------------------------------------------------------


def test_every_output_is_a_parquet_file_with_the_requested_rows_and_declared_columns(seeded):
    for output in Output.objects.all():
        path = output_path(output)
        assert output.path == f"{output.product.slug}/{output.name}.parquet"
        assert pq.read_metadata(path).num_rows == ROWS, output.path
        assert pq.read_schema(path).names == list(output.columns.values_list("name", flat=True)), output.path
        assert output.columns.filter(role="key").exists() and output.columns.filter(role="time").exists()
        assert output.path in seeded
    customers = Output.objects.get(product__slug="retail-cross-sell", name="customers")
    pii = set(customers.columns.filter(classification="pii").values_list("name", flat=True))
    assert pii == {"full_name", "email", "phone"}
    masking = dict(customers.columns.filter(classification="pii").values_list("name", "masking"))
    assert masking == {"full_name": "redact", "email": "partial", "phone": "redact"}  # emails keep their domain


def test_the_data_has_the_flaws_and_canaries_later_checks_look_for(seeded):
    for spec in specs.PRODUCTS:
        for output_spec in spec["outputs"]:
            frame = read(Output.objects.get(product__slug=spec["slug"], name=output_spec["name"]))
            assert frame.isna().any().any(), output_spec["path"]
            assert frame.duplicated(subset=output_spec["unique"]).any(), output_spec["path"]
            for column in [name for name in frame.columns if "email" in name]:
                emails = frame[column].dropna()
                assert not emails.str.match(EMAIL_RE).all(), f"{output_spec['path']}: {column}"
    customers = read(Output.objects.get(name="customers"))
    canary = customers[customers["email"] == datasets.CANARY_EMAIL]
    assert canary["customer_id"].tolist() == [datasets.CANARY_CUSTOMER_ID]
    orders = read(Output.objects.get(name="orders"))
    assert (orders["customer_email"] == datasets.CANARY_EMAIL).sum() == 1


def test_one_output_is_stale_and_the_others_are_recent(seeded):
    today = timezone.now().date()
    affinity = read(Output.objects.get(name="customer_affinity"))
    assert affinity["scored_at"].max().date() == today - timedelta(days=datasets.STALE_DAYS)
    orders = read(Output.objects.get(name="orders"))
    assert orders["order_date"].max() == today - timedelta(days=1)
    events = read(Output.objects.get(name="raw_events"))
    assert events["event_ts"].max().date() >= today - timedelta(days=1)


# --- Running it again -----------------------------------------------------------------------


def test_running_it_again_changes_nothing_but_rewrites_a_missing_file(seeded):
    counts = row_counts()
    updated = dict(DataProduct.objects.values_list("slug", "updated"))
    mtimes = {output.name: output_path(output).stat().st_mtime_ns for output in Output.objects.all()}

    second = seed()

    assert row_counts() == counts
    assert dict(DataProduct.objects.values_list("slug", "updated")) == updated
    assert {output.name: output_path(output).stat().st_mtime_ns for output in Output.objects.all()} == mtimes
    assert "written" not in second

    orders = output_path(Output.objects.get(name="orders"))
    before = pd.read_parquet(orders)
    orders.unlink()

    seed()

    pd.testing.assert_frame_equal(pd.read_parquet(orders), before)  # same seed, same data
    mtimes.pop("orders")
    assert mtimes == {
        output.name: output_path(output).stat().st_mtime_ns for output in Output.objects.exclude(name="orders")
    }
    assert row_counts() == counts


# --- Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", ["0", "-5"])
def test_it_refuses_a_row_count_below_the_minimum(data_root, rows):
    with pytest.raises(CommandError, match="--rows"):
        call_command("seed_demo", "--rows", rows, stdout=io.StringIO())
    assert not DataProduct.objects.exists()
    assert not any(data_root.iterdir())


def test_it_refuses_a_password_the_validators_reject(data_root):
    with pytest.raises(CommandError, match="--password"):
        call_command("seed_demo", "--password", "short", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="admin").exists()
