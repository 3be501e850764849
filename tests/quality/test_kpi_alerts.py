"""KPI alerts: a real computation over a Parquet output, judged against static bounds or a weekly baseline.

The output holds one row per day (``day``, a date; ``amount``; ``refunds``); the KPI sums ``amount``
by day. Its latest complete day is judged: yesterday, or the last Monday for the baseline tests;
today is partial and never judged.
"""

from datetime import date, timedelta

import pandas as pd
import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from products.choices import Aggregation, AlertRule, Direction, KPIStatus
from quality import kpis
from quality.alerts import deliver_notification
from quality.choices import Channel, IncidentEventKind, IncidentStatus
from quality.models import Incident, KPIRun, Notification, Webhook
from tests import factories
from tests.quality.conftest import add_schema

pytestmark = pytest.mark.django_db

COLUMNS = [
    ("day", "date", "time", "internal"),
    ("amount", "float", "measure", "internal"),
    ("refunds", "float", "measure", "internal"),
]
HOOK = "https://hooks.example.com/lodestar"


@pytest.fixture
def today() -> date:
    return kpis.local_today()


@pytest.fixture
def sales(product, data_root):
    output = factories.OutputFactory(product=product, name="sales", path="sales/sales.parquet")
    add_schema(output, COLUMNS)
    (data_root / "sales").mkdir()
    return output


@pytest.fixture
def webhook(product):
    hook = Webhook(product=product, url=HOOK)
    hook.set_secret("s3cret")
    hook.save()
    return hook


def write(data_root, amounts: dict[date, float], refunds: float = 7.0) -> None:
    """The sales file: one row per day with its amount (and a flat refund figure)."""
    days = sorted(amounts)
    frame = pd.DataFrame({"day": days, "amount": [amounts[day] for day in days], "refunds": [refunds] * len(days)})
    frame.to_parquet(data_root / "sales" / "sales.parquet")


def ending(last: date, values: list[float]) -> dict[date, float]:
    """``values`` on consecutive days, the last on ``last``."""
    return {last - timedelta(days=len(values) - 1 - offset): value for offset, value in enumerate(values)}


def kpi_of(output, **alert):
    fields = {"name": "Net revenue", "alert_rule": AlertRule.STATIC, "alert_min": 500.0, "grain": "day", **alert}
    return factories.KPIFactory(
        product=output.product, output=output, aggregation=Aggregation.SUM, column="amount",
        time_column="day", **fields,
    )  # fmt: skip


def compute(kpi, capture) -> KPIRun:
    with capture():
        run = kpis.compute(kpi)
    assert run.status == "ok", run.error
    run.refresh_from_db()
    return run


def opened(product) -> list[Notification]:
    return list(Notification.objects.filter(product=product, event="incident_opened").order_by("channel", "recipient"))


def last_monday(today: date) -> date:
    """The latest Monday that has ended: never today."""
    return today - timedelta(days=today.weekday() or 7)


def weekly(monday: date, weeks: int, spike: float | None = None) -> dict[date, float]:
    """``weeks`` weeks of days ending on ``monday``: Mondays about 500, other days about 100 (a little noise).

    ``spike`` replaces the last Monday's value.
    """
    days = [monday - timedelta(days=back) for back in range(weeks * 7)]
    amounts = {day: (500.0 if day.weekday() == 0 else 100.0) + day.toordinal() % 5 for day in days}
    if spike is not None:
        amounts[monday] = spike
    return amounts


# --- Static bounds ----------------------------------------------------------------------------


def test_a_static_breach_opens_an_incident_and_tells_owner_steward_and_webhooks(
    sales, data_root, today, webhook, alice, bob, django_capture_on_commit_callbacks
):
    write(data_root, {**ending(today - timedelta(days=1), [1000.0] * 13 + [276.5]), today: 0.0})
    kpi = kpi_of(sales)
    run = compute(kpi, django_capture_on_commit_callbacks)

    yesterday = (today - timedelta(days=1)).isoformat()
    assert run.alert_state == "breach"
    assert run.alert_detail["counter_metrics"] == []
    assert (run.alert_detail["period"], run.alert_detail["value"]) == (yesterday, 276.5)
    assert (run.alert_detail["low"], run.alert_detail["high"], run.alert_detail["rule"]) == (500.0, None, "static")
    incident = Incident.objects.get()
    assert (incident.kpi, incident.status, incident.occurrences) == (kpi, IncidentStatus.OPEN, 1)
    assert incident.title == f"KPI out of band: Net revenue ({yesterday}) 276.5 < 500"
    assert incident.events.get().note.startswith(f"{yesterday}: 276.5 < 500")

    notifications = opened(sales.product)
    assert [(n.channel, n.recipient) for n in notifications] == [
        (Channel.EMAIL, alice.email), (Channel.EMAIL, bob.email), (Channel.WEBHOOK, HOOK),
    ]  # fmt: skip
    payload = notifications[-1].payload
    assert payload["incident"]["subject"] == {"type": "kpi", "name": "Net revenue"}
    assert (payload["data"]["kpi"], payload["data"]["value"], payload["data"]["low"]) == ("Net revenue", 276.5, 500.0)

    for notification in notifications[:2]:
        deliver_notification.apply(args=(notification.pk,))
    assert sorted(message.to[0] for message in mail.outbox) == sorted([alice.email, bob.email])
    assert all("Net revenue" in message.subject and "276.5" in message.subject for message in mail.outbox)
    assert "value: 276.5" in mail.outbox[0].body


def test_a_value_within_bounds_and_todays_partial_day_raise_nothing(
    sales, data_root, today, django_capture_on_commit_callbacks
):
    write(data_root, {**ending(today - timedelta(days=1), [1000.0] * 7), today: 3.0})
    run = compute(kpi_of(sales, alert_max=2000.0), django_capture_on_commit_callbacks)
    assert (run.alert_state, run.alert_detail["value"], run.alert_detail["high"]) == ("ok", 1000.0, 2000.0)
    assert not Incident.objects.exists()
    assert not Notification.objects.exists()


def test_an_upper_bound_alerts_on_a_rise(sales, data_root, today, django_capture_on_commit_callbacks):
    write(data_root, ending(today - timedelta(days=1), [1000.0, 1000.0, 4321.0]))
    run = compute(kpi_of(sales, alert_min=None, alert_max=2000.0), django_capture_on_commit_callbacks)
    assert run.alert_state == "breach"
    assert Incident.objects.get().title.endswith("4,321 > 2,000")


def test_computing_the_same_breached_period_again_adds_no_incident_nor_occurrence(
    sales, data_root, today, django_capture_on_commit_callbacks
):
    write(data_root, ending(today - timedelta(days=1), [1000.0, 100.0]))
    kpi = kpi_of(sales)
    compute(kpi, django_capture_on_commit_callbacks)
    again = compute(kpi, django_capture_on_commit_callbacks)
    assert again.alert_state == "breach"
    incident = Incident.objects.get()
    assert (incident.occurrences, incident.events.count()) == (1, 1)
    assert len(opened(sales.product)) == 2  # alice and bob, once


def test_a_later_breached_period_joins_the_open_incident(sales, data_root, today, django_capture_on_commit_callbacks):
    kpi = kpi_of(sales)
    write(data_root, ending(today - timedelta(days=2), [1000.0, 100.0]))
    compute(kpi, django_capture_on_commit_callbacks)
    write(data_root, ending(today - timedelta(days=1), [1000.0, 100.0, 90.0]))
    compute(kpi, django_capture_on_commit_callbacks)
    incident = Incident.objects.get()
    assert incident.occurrences == 2
    assert list(incident.events.values_list("kind", flat=True)) == [
        IncidentEventKind.OPENED, IncidentEventKind.FAILED_AGAIN,
    ]  # fmt: skip
    assert incident.events.last().note.startswith(f"{today - timedelta(days=1)}: 90 < 500")
    assert len(opened(sales.product)) == 2  # joining is no news


def test_data_back_in_band_resolves_the_incident_when_the_product_says_so(
    sales, data_root, today, django_capture_on_commit_callbacks
):
    sales.product.auto_resolve_incidents = True
    sales.product.save()
    kpi = kpi_of(sales)
    write(data_root, ending(today - timedelta(days=1), [1000.0, 100.0]))
    compute(kpi, django_capture_on_commit_callbacks)
    write(data_root, ending(today - timedelta(days=1), [1000.0, 800.0]))
    run = compute(kpi, django_capture_on_commit_callbacks)
    assert run.alert_state == "ok"
    incident = Incident.objects.get()
    assert (incident.status, incident.resolved_by) == (IncidentStatus.RESOLVED, None)
    assert incident.events.last().kind == IncidentEventKind.AUTO_RESOLVED
    assert "800" in incident.resolution
    assert Notification.objects.filter(event="incident_resolved").count() == 2


def test_without_auto_resolve_the_incident_waits_for_a_steward(
    sales, data_root, today, django_capture_on_commit_callbacks
):
    kpi = kpi_of(sales)
    write(data_root, ending(today - timedelta(days=1), [1000.0, 100.0]))
    compute(kpi, django_capture_on_commit_callbacks)
    write(data_root, ending(today - timedelta(days=1), [1000.0, 800.0]))
    assert compute(kpi, django_capture_on_commit_callbacks).alert_state == "ok"
    assert Incident.objects.get().status == IncidentStatus.OPEN


def test_a_deprecated_kpi_or_one_without_a_rule_is_not_judged(
    sales, data_root, today, django_capture_on_commit_callbacks
):
    write(data_root, ending(today - timedelta(days=1), [1000.0, 100.0]))
    deprecated = kpi_of(sales, status=KPIStatus.DEPRECATED)
    assert compute(deprecated, django_capture_on_commit_callbacks).alert_state == ""
    deprecated.delete()
    assert compute(kpi_of(sales, alert_rule=""), django_capture_on_commit_callbacks).alert_state == ""
    assert not Incident.objects.exists()


# --- Baseline with weekly seasonality ---------------------------------------------------------


def test_a_monday_spike_is_not_alerted_but_a_monday_dip_is(sales, data_root, today, django_capture_on_commit_callbacks):
    monday = last_monday(today)
    kpi = kpi_of(sales, alert_rule=AlertRule.BASELINE, alert_min=None)
    write(data_root, weekly(monday, weeks=10))
    run = compute(kpi, django_capture_on_commit_callbacks)
    assert (run.alert_state, run.alert_detail["period"]) == ("ok", monday.isoformat())
    assert 500 <= run.alert_detail["median"] <= 505 and run.alert_detail["low"] > 100
    assert not Incident.objects.exists()

    write(data_root, weekly(monday, weeks=10, spike=120.0))
    run = compute(kpi, django_capture_on_commit_callbacks)
    assert run.alert_state == "breach"
    assert Incident.objects.get().title.startswith(f"KPI out of band: Net revenue ({monday}) 120 < 4")


def test_a_tuesday_at_monday_level_is_a_breach(sales, data_root, today, django_capture_on_commit_callbacks):
    tuesday = last_monday(today) - timedelta(days=6)  # the Tuesday before: its week has ended
    amounts = {day: value for day, value in weekly(last_monday(today), weeks=10).items() if day <= tuesday}
    amounts[tuesday] = 500.0
    write(data_root, amounts)
    run = compute(kpi_of(sales, alert_rule=AlertRule.BASELINE, alert_min=None), django_capture_on_commit_callbacks)
    # Higher is better by default: a rise is good news, however far.
    assert (run.alert_state, run.alert_detail["period"]) == ("ok", tuesday.isoformat())
    assert run.alert_detail["high"] < 500
    run = compute(
        kpi_of(sales, name="Cost", alert_rule=AlertRule.BASELINE, alert_min=None, direction=Direction.DOWN),
        django_capture_on_commit_callbacks,
    )
    assert run.alert_state == "breach"


@pytest.mark.parametrize(
    ("direction", "monday_value", "state"),
    [
        (Direction.DOWN, 900.0, "breach"),
        (Direction.DOWN, 120.0, "ok"),
        (Direction.UP, 900.0, "ok"),
        (Direction.UP, 120.0, "breach"),
    ],
)
def test_only_a_move_the_wrong_way_is_a_breach(
    sales, data_root, today, direction, monday_value, state, django_capture_on_commit_callbacks
):
    write(data_root, weekly(last_monday(today), weeks=10, spike=monday_value))
    kpi = kpi_of(sales, alert_rule=AlertRule.BASELINE, alert_min=None, direction=direction)
    run = compute(kpi, django_capture_on_commit_callbacks)
    assert run.alert_state == state
    assert Incident.objects.filter(kpi=kpi).exists() == (state == "breach")


def test_too_little_history_is_unknown_and_opens_nothing(sales, data_root, today, django_capture_on_commit_callbacks):
    write(data_root, weekly(last_monday(today), weeks=2, spike=1.0))  # two Mondays before the last: too few
    run = compute(kpi_of(sales, alert_rule=AlertRule.BASELINE, alert_min=None), django_capture_on_commit_callbacks)
    assert (run.alert_state, run.alert_detail["low"], run.alert_detail["value"]) == ("unknown", None, 1.0)
    assert not Incident.objects.exists()


def test_a_kpi_with_no_complete_period_is_unknown(sales, data_root, today, django_capture_on_commit_callbacks):
    write(data_root, {today: 5.0})
    run = compute(kpi_of(sales), django_capture_on_commit_callbacks)
    assert (run.alert_state, run.alert_detail["period"]) == ("unknown", None)


# --- Counter-metrics --------------------------------------------------------------------------


def test_counter_metric_values_go_with_the_verdict_and_the_alert(
    sales, data_root, today, django_capture_on_commit_callbacks
):
    write(data_root, ending(today - timedelta(days=1), [1000.0, 100.0]), refunds=12.5)
    refunds = factories.KPIFactory(
        product=sales.product, name="Refunds", output=sales, aggregation=Aggregation.SUM, column="refunds",
        time_column="day", grain="day",
    )  # fmt: skip
    compute(refunds, django_capture_on_commit_callbacks)
    kpi = kpi_of(sales)
    kpi.counter_metrics.add(refunds)
    run = compute(kpi, django_capture_on_commit_callbacks)

    yesterday = (today - timedelta(days=1)).isoformat()
    expected = [{"name": "Refunds", "value": 12.5, "period": yesterday}]
    assert run.alert_detail["counter_metrics"] == expected
    notification = opened(sales.product)[0]
    assert notification.payload["data"]["counter_metrics"] == expected
    deliver_notification.apply(args=(notification.pk,))
    assert "  - name: Refunds, value: " in mail.outbox[0].body


# --- Settings ---------------------------------------------------------------------------------


def test_a_static_rule_needs_a_bound_and_bounds_in_order(product):
    kpi = factories.KPIFactory.build(product=product, name="Net revenue", alert_rule=AlertRule.STATIC)
    with pytest.raises(ValidationError) as error:
        kpi.full_clean()
    assert "alert_min" in error.value.message_dict
    kpi.alert_min, kpi.alert_max = 10.0, 5.0
    with pytest.raises(ValidationError) as error:
        kpi.full_clean()
    assert "alert_max" in error.value.message_dict
    kpi.alert_max = 10.0
    kpi.full_clean()


# --- Pages and API ----------------------------------------------------------------------------


def test_a_kpi_incident_shows_on_its_page_and_in_the_api(
    sales, data_root, today, client, alice, api, django_capture_on_commit_callbacks
):
    write(data_root, ending(today - timedelta(days=1), [1000.0, 100.0]))
    kpi = kpi_of(sales)
    compute(kpi, django_capture_on_commit_callbacks)
    incident = Incident.objects.get()
    client.force_login(alice)
    page = client.get(reverse("quality:incident", args=[sales.product.slug, incident.pk]))
    assert page.status_code == 200
    assert "KPI <strong>Net revenue</strong>" in page.content.decode()
    answer = api(alice).get(f"/api/v1/incidents/{incident.pk}/").json()
    assert (answer["kpi"], answer["check"], answer["slo"]) == (kpi.pk, None, None)
