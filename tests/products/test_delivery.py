"""The one delivery function: read levels on every path, masking equal to mask_value, audit, errors without values."""

from __future__ import annotations

import io
import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from guardian.shortcuts import assign_perm

from access.masking import mask_value
from access.models import AuditAction, AuditEvent
from products import delivery
from products.demo.datasets import CANARY_EMAIL, CANARY_PHONE
from tests import factories
from tests.products import delivery_data
from tests.products.delivery_data import ground_truth

pytestmark = pytest.mark.django_db
# The shared fixtures (tests/products/delivery_data.py), made visible to this module's tests.
any_sales = delivery_data.any_sales
pg_scratch = delivery_data.pg_scratch
sales = delivery_data.sales


def read_all(user, output, **query) -> list[dict]:
    stream = delivery.RowStream(delivery.plan(user, output, **query), delivery.API)
    return [row for batch in stream for row in delivery.rows_as_dicts(batch)]


def path_urls(output) -> dict[str, str]:
    kwargs = {"slug": output.product.slug, "name": output.name}
    return {
        "preview": reverse("products:output-preview", kwargs=kwargs),
        "csv": reverse("products:output-download-csv", kwargs=kwargs),
        "parquet": reverse("products:output-download-parquet", kwargs=kwargs),
        "api": f"/api/v1/outputs/{output.pk}/data/",
    }


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- Levels --------------------------------------------------------------------------------


class TestLevels:
    def test_the_owner_reads_in_clear(self, alice, any_sales):
        rows = read_all(alice, any_sales)
        assert [row["order_id"] for row in rows] == ground_truth(any_sales)
        assert CANARY_EMAIL in {row["email"] for row in rows}

    def test_a_steward_reads_masked(self, bob, any_sales):
        rows = read_all(bob, any_sales)
        canary = next(row for row in rows if row["order_id"] == 2)
        assert canary["email"] == "c***@example.com"
        assert canary["phone"] == mask_value(CANARY_PHONE, "hash")
        assert canary["region"] == "North"  # not sensitive: in clear

    def test_a_masked_grant_reads_masked_and_an_unmasked_grant_in_clear(self, charlie, sales):
        assign_perm("products.read_output", charlie, sales)
        assert delivery.plan(charlie, sales).masked
        assign_perm("products.read_output_unmasked", charlie, sales)
        assert not delivery.plan(charlie, sales).masked
        assert CANARY_EMAIL in {row["email"] for row in read_all(charlie, sales)}

    def test_a_group_grant_counts(self, charlie, sales):
        group = factories_group("Analysts", charlie)
        assign_perm("products.read_output", group, sales)
        assert delivery.plan(charlie, sales).level == "masked"

    def test_a_user_without_access_is_refused_with_a_hint(self, charlie, sales):
        with pytest.raises(PermissionDenied, match="Request access"):
            delivery.plan(charlie, sales)

    def test_an_output_out_of_sight_is_not_found(self, charlie, draft):
        output = factories.OutputFactory(product=draft)
        with pytest.raises(Http404):
            delivery.plan(charlie, output)

    def test_a_retired_products_outputs_are_read_by_nobody(self, alice, admin_user, sales):
        sales.product.status = "retired"
        sales.product.save()
        for user in (alice, admin_user):
            with pytest.raises(PermissionDenied, match="retired"):
                delivery.plan(user, sales)

    @pytest.mark.parametrize("path", ["preview", "csv", "parquet", "api"])
    @pytest.mark.parametrize("person, expected", [("alice", 200), ("bob", 200), ("charlie", 403), ("admin_user", 200)])
    def test_every_path_answers_by_the_level(self, client, request, sales, path, person, expected):
        user = request.getfixturevalue(person)
        client.force_login(user)
        assert client.get(path_urls(sales)[path]).status_code == expected

    @pytest.mark.parametrize("path", ["preview", "csv", "parquet", "api"])
    def test_every_path_hides_a_draft_from_outsiders(self, client, charlie, draft, data_root, path):
        output = factories.OutputFactory(product=draft, name="hidden")
        client.force_login(charlie)
        assert client.get(path_urls(output)[path]).status_code == 404

    @pytest.mark.parametrize("path", ["preview", "csv", "parquet", "api"])
    def test_every_path_refuses_a_retired_product(self, client, alice, sales, path):
        sales.product.status = "retired"
        sales.product.save()
        client.force_login(alice)
        response = client.get(path_urls(sales)[path])
        assert response.status_code == 403
        assert CANARY_EMAIL not in body(response).decode()

    def test_anonymous_readers_are_sent_away(self, client, sales):
        for url in path_urls(sales).values():
            assert client.get(url).status_code in (302, 401, 403, 404)


def factories_group(name: str, *members):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name=name)
    group.user_set.add(*members)
    return group


# --- Masking equals mask_value ------------------------------------------------------------

TRICKY = [
    "jane@example.com", "@x", "a@b@c", "@@x", "abc", "abcd", "é✓ab", "x\ny@z", "line\nbreak", "", None,
    CANARY_EMAIL, "=1+1", CANARY_PHONE, "ab", "日本語テキスト",
]  # fmt: skip


@pytest.mark.parametrize("method", ["redact", "hash", "partial", "null"])
def test_batch_masking_equals_mask_value_for_text(method):
    got = delivery.mask_array(pa.array(TRICKY, pa.string()), method, "string").to_pylist()
    assert got == [mask_value(value, method, data_type="string") for value in TRICKY]


@pytest.mark.parametrize("method", ["redact", "hash", "partial", "null"])
@pytest.mark.parametrize(
    "values, data_type",
    [([1, None, 42, 42], "integer"), ([1.5, 42.0, None], "float"), ([True, False, None], "boolean")],
)
def test_batch_masking_equals_mask_value_for_other_types(method, values, data_type):
    got = delivery.mask_array(pa.array(values), method, data_type).to_pylist()
    assert got == [mask_value(value, method, data_type=data_type) for value in values]


def test_masked_columns_are_text_and_other_columns_keep_their_type(bob, sales):
    stream = delivery.RowStream(delivery.plan(bob, sales), delivery.API)
    batch = next(iter(stream))
    stream.close()
    assert batch.schema.field("email").type == pa.string()
    assert batch.schema.field("order_id").type == pa.int64()


# --- Audit -----------------------------------------------------------------------------------


class TestAudit:
    def test_one_event_per_read_with_the_rows_read(self, bob, sales):
        read_all(bob, sales, columns="order_id,email")
        event = AuditEvent.objects.get(action=AuditAction.DATA_READ)
        assert event.actor_name == "bob"
        assert event.object_id == str(sales.pk)
        assert event.product_slug == sales.product.slug
        assert event.details == {
            "rows": 12, "masked": True, "level": "masked", "path": "api", "columns": ["order_id", "email"],
            "row_filtered": False,
        }  # fmt: skip

    @pytest.mark.parametrize("path", ["preview", "csv", "parquet", "api"])
    def test_each_path_records_its_read_with_the_request_id(self, client, alice, sales, path):
        client.force_login(alice)
        response = client.get(path_urls(sales)[path], HTTP_X_REQUEST_ID="req-42")
        body(response)  # a stream is audited when it ends
        event = AuditEvent.objects.get(action=AuditAction.DATA_READ)
        assert event.details["path"] == path
        assert event.details["rows"] == 12  # preview: its first 20 rows at most
        assert event.details["masked"] is False
        assert event.request_id == "req-42"

    def test_a_download_abandoned_midway_records_the_rows_sent(self, alice, sales, monkeypatch):
        monkeypatch.setattr(delivery, "BATCH_ROWS", 5)
        chunks = delivery.csv_chunks(delivery.RowStream(delivery.plan(alice, sales), delivery.CSV))
        next(chunks)  # the header and the first batch of 5 rows
        chunks.close()  # what the server does when the client goes away
        assert AuditEvent.objects.get(action=AuditAction.DATA_READ).details["rows"] == 5

    def test_a_refused_read_records_no_read(self, client, charlie, sales):
        client.force_login(charlie)
        client.get(path_urls(sales)["csv"])
        assert not AuditEvent.objects.filter(action=AuditAction.DATA_READ).exists()


# --- Query validation --------------------------------------------------------------------------


class TestPlanValidation:
    @pytest.mark.parametrize(
        "query, parameter",
        [
            ({"columns": "nope"}, "columns"),
            ({"columns": "region) OR (1=1"}, "columns"),
            ({"columns": "region,region"}, "columns"),
            ({"sort": "nope"}, "sort"),
            ({"sort": "-region; DROP TABLE x"}, "sort"),
            ({"filters": ["region"]}, "filter"),
            ({"filters": ["nope:1"]}, "filter"),
            ({"filters": ["region:a\x00b"]}, "filter"),
            ({"filters": ["region:x"] * 21}, "filter"),
        ],
    )
    def test_bad_parameters_are_named(self, alice, sales, query, parameter):
        with pytest.raises(ValidationError) as caught:
            delivery.plan(alice, sales, **query)
        assert list(caught.value.message_dict) == [parameter]

    @pytest.mark.parametrize("query", [{"sort": "email"}, {"sort": "-phone"}, {"filters": [f"email:{CANARY_EMAIL}"]}])
    def test_a_masked_reader_cannot_sort_or_filter_on_a_masked_column(self, bob, sales, query):
        with pytest.raises(ValidationError) as caught:
            delivery.plan(bob, sales, **query)
        assert "masked" in str(caught.value)
        assert CANARY_EMAIL not in str(caught.value)

    def test_an_unmasked_reader_may_sort_and_filter_on_any_column(self, alice, sales):
        rows = read_all(alice, sales, sort="-email", filters=[f"email:{CANARY_EMAIL}"])
        assert [row["order_id"] for row in rows] == [2]

    def test_an_output_without_columns_cannot_be_delivered(self, alice, product):
        output = factories.OutputFactory(product=product)
        with pytest.raises(ValidationError) as caught:
            delivery.plan(alice, output)
        assert "columns" in caught.value.message_dict


# --- Errors carry no values ---------------------------------------------------------------------


class TestErrors:
    @pytest.mark.parametrize("path", ["preview", "api"])
    def test_a_missing_source_is_a_generic_error(self, client, bob, sales, path, caplog):
        sales.truth_path.unlink()
        (sales.truth_path.parent / "sales" / "sales.parquet").unlink()
        client.force_login(bob)
        with caplog.at_level(logging.INFO):
            response = client.get(path_urls(sales)[path])
        assert response.status_code == 409
        assert "The source could not be read" in response.content.decode()
        assert "sales.parquet" not in response.content.decode()

    def test_a_broken_stream_logs_no_values(self, bob, sales, caplog, monkeypatch):
        read_plan = delivery.plan(bob, sales)
        read_plan.scope = [("region", [CANARY_EMAIL])]
        read_plan.columns[0].name = "missing_column"  # the source refuses the query, quoting what it was given
        with caplog.at_level(logging.DEBUG), pytest.raises(delivery.DeliveryError):
            list(delivery.RowStream(read_plan, delivery.API))
        assert CANARY_EMAIL not in caplog.text
        assert "Cannot read" in caplog.text


def test_parquet_download_round_trips(client, alice, sales):
    client.force_login(alice)
    table = pq.read_table(io.BytesIO(body(client.get(path_urls(sales)["parquet"]))))
    assert table.column("order_id").to_pylist() == ground_truth(sales)


@pytest.mark.parametrize(
    "key", ["", "short-key", "k" * 64, "a-key-longer-than-sha256s-block-of-64-bytes-is-hashed-first-by-hmac"]
)
def test_batch_hashing_equals_keyed_hash_under_any_key(settings, key):
    settings.LODESTAR_MASKING_KEY = key
    got = delivery.mask_array(pa.array(TRICKY, pa.string()), "hash", "string").to_pylist()
    assert got == [mask_value(value, "hash") for value in TRICKY]
