"""Masking of sensitive values: each method's known answers, the column's method, and its use in check samples."""

import hashlib
import hmac
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from django.core.exceptions import ValidationError

from access.masking import REDACTED, mask_row, mask_value, mask_values, masking_methods
from products.demo.datasets import CANARY_EMAIL
from quality.engine import run_checks_for_output
from tests import factories

METHODS = ["redact", "hash", "partial", "null"]
HASHED = re.compile(r"h:[0-9a-f]{16}")


@pytest.mark.parametrize(
    "value",
    ["jane@example.com", "", 42, 4.5, Decimal("1.10"), True, date(2024, 1, 31), datetime(2024, 1, 31, tzinfo=UTC)],
)
def test_redact_gives_the_same_token_whatever_the_value(value):
    assert mask_value(value, "redact") == REDACTED == "***"


def test_redact_hides_even_whether_a_value_is_missing():
    assert mask_value(None, "redact") == "***"


def test_null_gives_none():
    assert mask_value("jane@example.com", "null") is None
    assert mask_value(42, "null", data_type="integer") is None
    assert mask_value(None, "null") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("jane@@example.com", "j***@example.com"),
        ("@example.com", "***@example.com"),
        ("Stockholm", "S***m"),
        ("abcd", "a***d"),
        ("abc", "***"),
        ("", "***"),
        ("Ærøskøbing", "Æ***g"),
        ("東京都千代田区", "東***区"),
        ("名前@例え.jp", "名***@例え.jp"),
    ],
)
def test_partial_keeps_a_strings_edges_and_an_emails_domain(value, expected):
    assert mask_value(value, "partial") == expected


@pytest.mark.parametrize("value", [12345678, 3.14159, Decimal("99.95"), True, date(2024, 1, 31), b"secret"])
def test_partial_redacts_whatever_is_not_a_string(value):
    assert mask_value(value, "partial") == "***"


def test_partial_redacts_a_string_read_from_a_column_of_another_type():
    assert mask_value("12345678", "partial", data_type="integer") == "***"
    assert mask_value("12345678", "partial", data_type="string") == "1***8"


def test_partial_and_hash_keep_none():
    assert mask_value(None, "partial") is None
    assert mask_value(None, "hash") is None


def test_hash_is_keyed_stable_and_joinable(settings):
    settings.LODESTAR_MASKING_KEY = "first key"
    first = mask_value("jane@example.com", "hash")
    assert HASHED.fullmatch(first)
    assert mask_value("jane@example.com", "hash") == first
    assert mask_value("john@example.com", "hash") != first
    settings.LODESTAR_MASKING_KEY = "second key"
    assert mask_value("jane@example.com", "hash") != first


def test_hash_is_derived_from_the_secret_key_when_no_masking_key_is_set(settings):
    settings.LODESTAR_MASKING_KEY = ""
    settings.SECRET_KEY = "one secret"
    first = mask_value("jane@example.com", "hash")
    settings.SECRET_KEY = "another secret"
    assert HASHED.fullmatch(first) and mask_value("jane@example.com", "hash") != first


def test_hash_matches_a_value_however_its_source_typed_it(settings):
    settings.LODESTAR_MASKING_KEY = "key"
    assert {mask_value(value, "hash") for value in [42, "42", 42.0, Decimal(42)]} == {mask_value(42, "hash")}
    assert mask_value(date(2024, 1, 31), "hash") == mask_value("2024-01-31", "hash")
    assert mask_value(42, "hash") != mask_value(43, "hash")


def test_hash_has_a_known_answer(settings):
    settings.LODESTAR_MASKING_KEY = "lodestar"
    # The first 16 hex digits of HMAC-SHA256(key=b"lodestar", msg=b"jane@example.com").
    expected = hmac.new(b"lodestar", b"jane@example.com", hashlib.sha256).hexdigest()[:16]
    assert expected == "e89d102088f58fd6"
    assert mask_value("jane@example.com", "hash") == "h:e89d102088f58fd6"


@pytest.mark.parametrize("method", ["", "mask", "REDACT", "sha256"])
def test_an_unknown_method_is_refused_by_name(method):
    with pytest.raises(ValueError, match=re.escape(repr(method))):
        mask_value("jane@example.com", method)


def test_mask_values_masks_a_whole_column():
    assert mask_values(["jane@example.com", None, "abc"], "partial") == ["j***@example.com", None, "***"]


def test_mask_row_touches_only_the_listed_columns():
    row = {"id": 7, "email": "jane@example.com", "phone": "+44 20 7946 0000", "city": "Leeds", "note": None}
    methods = {"email": "partial", "phone": "null", "note": "redact", "absent": "hash"}
    expected = {"id": 7, "email": "j***@example.com", "phone": None, "city": "Leeds", "note": "***"}
    assert mask_row(row, methods) == expected
    assert row["email"] == "jane@example.com"  # the row given is not changed


@pytest.mark.parametrize("method", METHODS)
def test_the_canary_email_never_survives_masking(method):
    assert CANARY_EMAIL == "canary.pii@example.com"
    masked = mask_row({"email": CANARY_EMAIL, "note": f"from {CANARY_EMAIL}"}, {"email": method, "note": method})
    assert CANARY_EMAIL not in repr(masked)
    assert "canary" not in repr(masked)


@pytest.mark.django_db
def test_only_sensitive_columns_get_a_method():
    output = factories.OutputFactory()
    factories.OutputColumnFactory(output=output, name="id", classification="internal", masking="hash")
    factories.OutputColumnFactory(output=output, name="region", classification="public")
    factories.OutputColumnFactory(output=output, name="email", classification="pii", masking="partial")
    factories.OutputColumnFactory(output=output, name="name", classification="pii")
    assert masking_methods(output) == {"email": "partial", "name": "redact"}


@pytest.mark.django_db
def test_a_column_refuses_an_unknown_masking_method():
    column = factories.OutputColumnFactory.build(output=factories.OutputFactory(), name="email", masking="scramble")
    with pytest.raises(ValidationError) as caught:
        column.full_clean()
    assert list(caught.value.message_dict) == ["masking"]
    column.masking = "hash"
    column.full_clean()


@pytest.mark.django_db
def test_the_api_reads_and_writes_a_columns_masking(api, alice, product):
    output = factories.OutputFactory(product=product)
    columns = [{"name": "email", "classification": "pii", "masking": "partial"}, {"name": "id", "role": "key"}]
    response = api(alice).patch(f"/api/v1/outputs/{output.pk}/", {"columns": columns}, format="json")
    assert response.status_code == 200, response.json()
    assert [column["masking"] for column in response.json()["columns"]] == ["partial", "redact"]
    assert list(output.columns.values_list("name", "masking")) == [("email", "partial"), ("id", "redact")]


@pytest.mark.django_db
def test_the_api_refuses_an_unknown_masking_method_by_name(api, alice, product):
    output = factories.OutputFactory(product=product)
    factories.OutputColumnFactory(output=output, name="kept")
    columns = [{"name": "email", "classification": "pii", "masking": "scramble"}]
    response = api(alice).patch(f"/api/v1/outputs/{output.pk}/", {"columns": columns}, format="json")
    assert response.status_code == 400
    assert list(response.json()["columns"]["0"]) == ["masking"]
    assert list(output.columns.values_list("name", flat=True)) == ["kept"]


@pytest.mark.django_db
def test_failing_row_samples_mask_each_column_by_its_method(settings, product, data_root):
    settings.LODESTAR_MASKING_KEY = "key"
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "amount": [10.0, -1.0, -2.0],
            "email": ["jane@example.com", CANARY_EMAIL, CANARY_EMAIL],
            "customer": ["C-1", "C-2", "C-2"],
            "phone": ["+44 20 7946 0001", "+44 20 7946 0002", None],
            "note": ["a", "b", None],
        }
    )
    (data_root / "masked").mkdir()
    frame.to_parquet(data_root / "masked" / "rows.parquet")
    output = factories.OutputFactory(product=product, name="rows", path="masked/rows.parquet")
    for name, classification, masking in [
        ("id", "internal", "redact"),
        ("amount", "internal", "redact"),
        ("email", "pii", "partial"),
        ("customer", "pii", "hash"),
        ("phone", "pii", "null"),
        ("note", "pii", "redact"),
    ]:
        factories.OutputColumnFactory(output=output, name=name, classification=classification, masking=masking)
    check = factories.CheckFactory(output=output, name="amount", check_type="invalid_count", column="amount")
    check.params = {"min": 0}
    check.save()
    [result] = run_checks_for_output(output)
    assert result.samples == [
        {"id": 2, "amount": -1.0, "email": "c***@example.com", "customer": mask_value("C-2", "hash"),
         "phone": None, "note": "***"},
        {"id": 3, "amount": -2.0, "email": "c***@example.com", "customer": mask_value("C-2", "hash"),
         "phone": None, "note": "***"},
    ]  # fmt: skip
    assert CANARY_EMAIL not in repr(result.samples) and "C-2" not in repr(result.samples)
