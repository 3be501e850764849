"""Validation in the model layer, shared by forms, the API and imports."""

import os

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from products.models import Connection, Output
from tests import factories

pytestmark = pytest.mark.django_db


def field_errors(callable_) -> dict:
    with pytest.raises(ValidationError) as excinfo:
        callable_()
    return excinfo.value.message_dict


def test_a_duplicate_slug_is_refused_naming_the_slug(product):
    duplicate = factories.DataProductFactory.build(slug=product.slug, domain=product.domain, owner=product.owner)
    assert "slug" in field_errors(duplicate.full_clean)


def test_the_database_also_refuses_a_duplicate_slug(product):
    with pytest.raises(IntegrityError):
        factories.DataProductFactory(slug=product.slug)


def test_a_hypothesis_cannot_point_at_another_products_goal(product):
    other_goal = factories.GoalFactory()
    initiative = factories.InitiativeFactory(product=product)
    hypothesis = factories.HypothesisFactory.build(product=product, goal=other_goal, initiative=initiative)
    assert "goal" in field_errors(hypothesis.full_clean)


def test_a_kpi_cannot_be_its_own_ancestor(product):
    root = factories.KPIFactory(product=product, level="l1")
    child = factories.KPIFactory(product=product, level="l2", parent=root)
    root.parent = child
    assert "parent" in field_errors(root.full_clean)


def test_a_kpi_cannot_be_its_own_parent(product):
    kpi = factories.KPIFactory(product=product, level="l2")
    kpi.parent = kpi
    assert field_errors(kpi.full_clean)["parent"] == ["A KPI cannot be its own ancestor."]


def test_the_north_star_has_no_parent(product):
    parent = factories.KPIFactory(product=product, level="l1")
    star = factories.KPIFactory.build(product=product, level="north_star", parent=parent)
    assert "parent" in field_errors(star.full_clean)


def test_a_child_kpi_sits_below_its_parent(product):
    parent = factories.KPIFactory(product=product, level="l2")
    child = factories.KPIFactory.build(product=product, level="l1", parent=parent)
    assert "parent" in field_errors(child.full_clean)


def test_a_kpi_reads_only_columns_its_output_has(product):
    output = factories.OutputFactory(product=product)
    factories.OutputColumnFactory(output=output, name="revenue", role="measure")
    kpi = factories.KPIFactory.build(product=product, output=output, aggregation="sum", column="profit")
    assert "column" in field_errors(kpi.full_clean)


def test_the_north_star_field_takes_only_this_products_north_star(product):
    foreign = factories.KPIFactory(level="north_star")
    product.north_star = foreign
    assert "north_star" in field_errors(product.full_clean)
    own_l1 = factories.KPIFactory(product=product, level="l1")
    product.north_star = own_l1
    assert "north_star" in field_errors(product.full_clean)


@pytest.mark.parametrize("path", ["../secrets.parquet", "/etc/passwd", "a/../../b.csv", "C:\\data\\x.csv"])
def test_an_output_path_must_stay_under_the_data_root(product, path):
    output = Output(product=product, name="orders", kind="file", format="parquet", path=path)
    assert "path" in field_errors(output.full_clean)


def test_a_symlink_cannot_lead_outside_the_data_root(product, data_root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, data_root / "escape")
    output = Output(product=product, name="orders", kind="file", format="parquet", path="escape/orders.parquet")
    assert "path" in field_errors(output.full_clean)


def test_a_path_under_the_data_root_is_fine(product):
    Output(product=product, name="orders", kind="file", format="parquet", path="sales/orders.parquet").full_clean()


def test_a_table_output_needs_a_connection_and_a_table(product):
    output = Output(product=product, name="orders", kind="table")
    errors = field_errors(output.full_clean)
    assert {"connection", "table"} <= errors.keys()


@pytest.mark.parametrize("field", ["name", "summary", "vision"])
def test_nul_bytes_are_refused_in_text(product, field):
    setattr(product, field, "bad\x00value")
    assert field in field_errors(product.full_clean)


def test_a_one_megabyte_vision_is_refused(product):
    product.vision = "x" * 1_000_000
    assert "vision" in field_errors(product.full_clean)


def test_an_unsemantic_version_is_refused(product):
    product.version = "v1"
    assert "version" in field_errors(product.full_clean)


def test_an_slo_objective_stays_within_0_and_100(product):
    slo = factories.SLOFactory.build(product=product, objective_percent=101)
    assert "objective_percent" in field_errors(slo.full_clean)


def test_an_input_cannot_make_a_lineage_cycle(product):
    downstream = factories.DataProductFactory()
    factories.ProductInputFactory(product=downstream, source_output=factories.OutputFactory(product=product))
    back = factories.ProductInputFactory.build(
        product=product, source_output=factories.OutputFactory(product=downstream)
    )
    assert "source_output" in field_errors(back.full_clean)


def test_a_product_cannot_read_its_own_output(product):
    own = factories.ProductInputFactory.build(product=product, source_output=factories.OutputFactory(product=product))
    assert "source_output" in field_errors(own.full_clean)


def test_downstream_products_follow_inputs(product):
    downstream = factories.DataProductFactory()
    factories.ProductInputFactory(product=downstream, source_output=factories.OutputFactory(product=product))
    assert list(product.downstream_products()) == [downstream]
    assert downstream.upstream_products() == {product.pk}


class TestConnection:
    def test_it_stores_the_url_encrypted_and_shows_it_without_the_password(self):
        connection = Connection(name="warehouse")
        connection.set_url("postgresql://reader:s3cret@db.internal:5432/warehouse")
        connection.save()
        assert "s3cret" not in connection.encrypted_url
        assert "s3cret" not in connection.display_url
        assert Connection.objects.get().url.endswith("reader:s3cret@db.internal:5432/warehouse")

    @pytest.mark.parametrize(
        "url",
        [
            "mysql://root@localhost/db",
            "file:///etc/passwd",
            "sqlite:////etc/passwd",
            "sqlite:///../outside.db",
            "postgresql://u@h/db?options=-c%20search_path%3Devil",
        ],
    )
    def test_it_refuses_urls_outside_the_allow_list(self, url):
        with pytest.raises(ValidationError) as excinfo:
            Connection(name="bad").set_url(url)
        assert "url" in excinfo.value.message_dict

    def test_a_sqlite_file_under_the_data_root_is_allowed(self):
        connection = Connection(name="local")
        connection.set_url("sqlite:///warehouse.db")
        assert connection.kind == "sqlite"

    def test_keys_rotate(self, settings):
        from cryptography.fernet import Fernet

        from utilities import crypto

        old_key = Fernet.generate_key().decode()
        settings.LODESTAR_ENCRYPTION_KEYS = [old_key]
        token = crypto.encrypt("postgresql://u:p@h/db")
        settings.LODESTAR_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
        rotated = crypto.rotate(token)
        settings.LODESTAR_ENCRYPTION_KEYS = settings.LODESTAR_ENCRYPTION_KEYS[:1]
        assert crypto.decrypt(rotated) == "postgresql://u:p@h/db"
        with pytest.raises(ValueError, match="cannot be decrypted"):
            crypto.decrypt(token)


def test_a_product_reads_an_output_once(product):
    source = factories.OutputFactory()
    factories.ProductInputFactory(product=product, source_output=source)
    again = factories.ProductInputFactory.build(product=product, source_output=source)
    with pytest.raises(ValidationError, match="already reads that output"):
        again.full_clean()
