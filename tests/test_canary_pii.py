"""The demo's canary person never reaches a reader without ``read_output_unmasked`` (issue 4).

``products.demo.datasets`` plants a canary customer (email, name, phone) in
``retail-cross-sell/customers`` and in one order of ``sales-intelligence/orders``. Here the demo
is seeded, its checks run — with one more check that fails on the canary row only, so a
failing-row sample holds it — its alerts and access emails are sent, and then every GET route of
the permission matrix, every delivery path in every format and a few probing queries are asked by
readers who may read the data masked, or not at all. No canary value may appear in any response
body, download, sample, email, notification or log line. The owner, who reads in clear, does see
the canary: the net would catch a leak.
"""

from __future__ import annotations

import io
import logging
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from access import grants
from access.models import AccessGrant, AccessRequest
from products import versions
from products.demo.datasets import CANARY_EMAIL, CANARY_NAME, CANARY_PHONE
from products.history import ChangeRequest
from products.models import DataProduct, Output
from quality import alerts
from quality.models import Check, CheckRun, Incident, Notification, Webhook
from tests import factories
from tests.test_permission_matrix import ROUTES

pytestmark = pytest.mark.django_db

CANARIES = (CANARY_EMAIL, CANARY_NAME, CANARY_PHONE)
# Fails for every email that does not start with "canary.p": the canary's row only (RE2 has no look-ahead).
NOT_THE_CANARY = r"^([^c]|c[^a]|ca[^n]|can[^a]|cana[^r]|canar[^y]|canary[^.]|canary\.[^p]).*$"


def leaked(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return content.decode("utf-8", errors="replace")


def parquet_text(response) -> str:
    """A Parquet download's values as text: the file is compressed, so look inside it."""
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(b"".join(response.streaming_content)))
    return table.to_pandas().to_csv()


@pytest.fixture
def demo(data_root, caplog):
    caplog.set_level(logging.DEBUG)
    call_command("seed_demo", "--rows", "2000", stdout=io.StringIO())
    output = Output.objects.select_related("product").get(product__slug="retail-cross-sell", name="customers")
    Check.objects.create(
        output=output,
        name="canary trap",
        check_type="invalid_count",
        params={"regex": NOT_THE_CANARY},
        column="email",
        severity="fail",
    )
    with pytest.raises(CommandError, match="fail-severity"):  # the demo's planted flaws, and the trap
        call_command("run_checks", "--product", "retail-cross-sell", stdout=io.StringIO())
    return output


@pytest.fixture
def readers(demo):
    owner = demo.product.owner
    masked = factories.UserFactory(username="masked-reader", email="masked@example.com")
    grants.grant(demo, user=masked, level="masked", days=30, by=owner)
    steward = demo.product.stewards.first()
    outsider = factories.UserFactory(username="outsider", email="outsider@example.com")
    return {"steward": steward, "masked grant": masked, "no access": outsider, "owner": owner}


def world_of(output: Output, readers: dict) -> SimpleNamespace:
    """The permission matrix's world, made of the demo product around ``output``."""
    product: DataProduct = output.product
    check = Check.objects.get(output=output, name="canary trap")
    webhook = Webhook(product=product, url="https://hooks.example.com/canary")
    webhook.set_secret("canary-secret")
    webhook.save()
    request = grants.request_access(
        output, requester=readers["no access"], purpose="Campaign planning", level="masked", days=7
    )
    version = versions.record_version(product, source="demo", message="Canary") or versions.latest(product)
    change = ChangeRequest.objects.create(
        product=product, author=readers["steward"], base_snapshot=version.snapshot, proposed=version.snapshot
    )
    return SimpleNamespace(
        version=version,
        change=change,
        decided=change,
        product=product,
        output=output,
        check=check,
        run=CheckRun.objects.filter(quality_check=check).latest("id"),
        incident=Incident.objects.filter(quality_check=check).latest("id"),
        slo=product.slos.first() or factories.SLOFactory(product=product),
        webhook=webhook,
        goal=product.goals.first() or factories.GoalFactory(product=product),
        initiative=product.initiatives.first() or factories.InitiativeFactory(product=product),
        hypothesis=product.hypotheses.first() or factories.HypothesisFactory(product=product),
        use_case=product.use_cases.first() or factories.UseCaseFactory(product=product),
        usage_pattern=product.usage_patterns.first() or factories.UsagePatternFactory(product=product),
        kpi=product.kpis.first() or factories.KPIFactory(product=product),
        input=product.inputs.first() or factories.ProductInputFactory(product=product),
        request=request,
        grant=AccessGrant.objects.filter(user=readers["masked grant"]).get(),
        steward=product.stewards.first(),
        tag=product.tags.first() or factories.TagFactory(),
        team=factories.TeamFactory(),
    )


def test_the_canary_trap_caught_the_canary_for_the_owner(demo, readers):
    """The control: the trap's failing sample holds the canary, and the owner's download shows it."""
    run = CheckRun.objects.filter(quality_check__name="canary trap").latest("id")
    assert run.status == "fail" and run.observed_value == 1
    assert CANARY_EMAIL not in str(run.samples)  # stored masked, whoever looks
    client = Client()
    client.force_login(readers["owner"])
    csv = body_of(client.get(reverse("products:output-download-csv", args=[demo.product.slug, demo.name])))
    assert leaked(csv) == list(CANARIES)


@pytest.mark.parametrize("reader", ["steward", "masked grant", "no access"])
def test_no_page_or_api_route_shows_the_canary(demo, readers, reader):
    world = world_of(demo, readers)
    client = Client()
    client.force_login(readers[reader])
    seen = {}
    for name, route in ROUTES.items():
        if route.method != "get":
            continue
        response = client.get(route.url(world))
        text = parquet_text(response) if name.endswith("parquet") and response.status_code == 200 else body_of(response)
        seen[name] = response.status_code
        assert not leaked(text), f"{reader} saw {leaked(text)} at {name} ({response.status_code})"
    if reader != "no access":
        assert seen["products:output-download-csv"] == 200 and seen["output-data"] == 200


@pytest.mark.parametrize("reader", ["steward", "masked grant"])
def test_no_delivery_format_or_probe_shows_the_canary(demo, readers, reader):
    client = Client()
    client.force_login(readers[reader])
    data = reverse("output-data", args=[demo.pk])
    probes = [
        {"format": "json", "limit": 10000},
        {"format": "csv", "limit": 10000},
        {"columns": "email,full_name,phone", "limit": 10000},
        {"filter": f"email:{CANARY_EMAIL}"},
        {"sort": "email"},
        {"sort": "-phone"},
        {"filter": f"region:{CANARY_EMAIL}"},
    ]  # (a probe that puts the canary in a column name is answered with that name: the reader's own words)
    for query in probes:
        response = client.get(data, query)
        assert response.status_code in (200, 400), (query, response.status_code)
        assert not leaked(body_of(response)), f"{reader} saw the canary with {query}"


def test_no_email_notification_or_log_line_carries_the_canary(
    demo, readers, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # access emails leave after the commit
        world_of(demo, readers)  # a request: the access managers get an email
        request = AccessRequest.objects.get(requester=readers["no access"])
        grants.approve(request, by=readers["owner"], comment="For the spring campaign")
    for notification in Notification.objects.all():
        alerts.deliver(notification)
    subjects = " | ".join(message.subject for message in mail.outbox)
    assert "canary trap" in subjects and "access" in subjects.lower(), subjects
    for message in mail.outbox:
        assert not leaked(f"{message.subject}\n{message.body}"), message.subject
    for notification in Notification.objects.all():
        assert not leaked(str(notification.__dict__))
    assert not leaked(caplog.text)
