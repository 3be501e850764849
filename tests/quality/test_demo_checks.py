"""The demo products get the standard checks, and they find the flaws planted in the demo data."""

import io
import re

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from quality.demo import seed_demo_checks
from quality.models import Check, CheckRun

pytestmark = pytest.mark.django_db


def test_seeding_the_demo_adds_checks_that_find_the_planted_flaws(data_root):
    call_command("seed_demo", "--rows", "2000", stdout=io.StringIO())
    assert Check.objects.filter(output__product__slug="retail-cross-sell").count() > 20
    with pytest.raises(CommandError):
        call_command("run_checks", "--product", "retail-cross-sell", stdout=io.StringIO())
    runs = {
        run.quality_check.name: run for run in CheckRun.objects.filter(quality_check__output__name="customer_affinity")
    }
    assert runs["fresh"].status == "fail" and runs["fresh"].observed_value > 24 * 11  # the stale scoring run
    assert runs["mnt_wines not negative"].status == "fail"  # the refund-netting bug
    assert runs["customer_id unique"].status == "warn"  # duplicates found; no SLO promises this key unique
    crm = CheckRun.objects.get(quality_check__output__name="customers", quality_check__name="customer_id unique")
    assert crm.status == "fail"  # "Customer ids complete and unique" does
    assert runs["schema matches the spec"].status == "pass"
    customers = CheckRun.objects.get(quality_check__output__name="customers", quality_check__name="email well-formed")
    assert customers.status == "warn" and customers.observed_value > 0
    assert_masked_partially(customers.samples, data_root / "retail-cross-sell" / "customers.parquet")


def assert_masked_partially(samples: list[dict], path) -> None:
    """The demo's emails are masked ``partial``: first character and domain, never the address itself."""
    emails = dict(zip(*pq.read_table(path, columns=["customer_id", "email"]).to_pydict().values(), strict=True))
    assert samples
    for sample in samples:
        raw = emails[sample["customer_id"]]
        assert sample["email"] != raw and raw not in sample["email"]
        assert re.fullmatch(r".?\*\*\*(@.*|.)?", sample["email"]), sample["email"]
        assert sample["email"][:1] == raw[:1]


def test_seeding_the_demo_checks_twice_changes_nothing(data_root):
    call_command("seed_demo", "--rows", "2000", stdout=io.StringIO())
    before = list(Check.objects.order_by("pk").values())
    seed_demo_checks()
    assert list(Check.objects.order_by("pk").values()) == before
