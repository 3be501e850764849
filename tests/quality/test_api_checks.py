"""/api/v1/checks/: seen with their product, written by whoever may change it, custom SQL by admins only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.models import Check
from tests import factories
from tests.quality.outcomes import finished_run

pytestmark = pytest.mark.django_db

LIST = "/api/v1/checks/"
CUSTOM_SQL = {"check_type": "custom_sql", "params": {"sql": "SELECT COUNT(*) FROM {table}"}}


def url(check=None) -> str:
    return LIST + (f"{check.pk}/" if check else "")


def with_columns(output):
    for name in ("id", "email", "amount"):
        factories.OutputColumnFactory(output=output, name=name)
    return output


@pytest.fixture
def output(product):
    return with_columns(factories.OutputFactory(product=product, name="orders"))


@pytest.fixture
def draft_output(draft):
    return with_columns(factories.OutputFactory(product=draft, name="churners"))


@pytest.fixture
def check(output):
    return factories.CheckFactory(output=output, name="rows present")


def body(output, **fields) -> dict:
    return {"output": output.pk, "name": "emails present", "check_type": "missing_count", "column": "email", **fields}


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


# --- Who sees and writes what ----------------------------------------------------------------


def test_anonymous_visitors_get_401(api, check):
    assert api(None).get(LIST).status_code == 401
    assert api(None).get(url(check)).status_code == 401


def test_it_hides_checks_of_drafts_from_outsiders(api, charlie, check, draft_output):
    hidden = factories.CheckFactory(output=draft_output)
    client = api(charlie)
    assert [item["id"] for item in client.get(LIST).json()["results"]] == [check.pk]
    assert client.get(url(check)).status_code == 200
    assert client.get(url(hidden)).status_code == 404
    assert client.patch(url(hidden), {"name": "mine"}, format="json").status_code == 404
    assert client.delete(url(hidden)).status_code == 404


@pytest.mark.parametrize("who", ["alice", "bob", "admin_user"])
def test_owner_steward_and_admin_create_change_and_delete(api, request, who, draft_output):
    client = api(request.getfixturevalue(who))
    created = client.post(LIST, body(draft_output), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["product"] == "churn"
    assert (created.json()["operator"], created.json()["threshold"]) == ("eq", 0.0)  # the type's defaults
    assert created.json()["threshold_display"] == "== 0"
    check = Check.objects.get(pk=created.json()["id"])
    changed = client.patch(url(check), {"threshold": 3, "operator": "lte", "schedule": "*/15 * * * *"}, format="json")
    assert changed.status_code == 200, changed.json()
    check.refresh_from_db()
    assert (check.threshold, check.operator, check.schedule) == (3.0, "lte", "*/15 * * * *")
    assert client.delete(url(check)).status_code == 204
    assert not Check.objects.exists()


def test_outsiders_cannot_write_checks_of_a_published_product(api, charlie, check, output):
    client = api(charlie)
    assert client.patch(url(check), {"name": "mine"}, format="json").status_code == 403
    assert client.delete(url(check)).status_code == 403
    assert client.post(LIST, body(output), format="json").status_code == 403
    assert list(Check.objects.values_list("name", flat=True)) == ["rows present"]


def test_outsiders_cannot_add_to_an_output_they_cannot_see(api, charlie, draft_output):
    response = api(charlie).post(LIST, body(draft_output), format="json")
    assert_refused(response, "output")
    assert "does not exist" in response.json()["output"][0]
    assert not Check.objects.exists()


def test_a_check_cannot_move_to_an_output_its_editor_may_not_change(api, alice, check):
    elsewhere = with_columns(factories.OutputFactory(product=factories.DataProductFactory()))
    assert api(alice).patch(url(check), {"output": elsewhere.pk}, format="json").status_code == 403
    check.refresh_from_db()
    assert check.output.name == "orders"


# --- Custom SQL: admins only -----------------------------------------------------------------


def test_stewards_may_not_create_custom_sql(api, bob, output):
    response = api(bob).post(LIST, body(output, **CUSTOM_SQL), format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Only admins may create, change or delete custom SQL checks."}
    assert not Check.objects.exists()


def test_admins_create_custom_sql(api, admin_user, output):
    response = api(admin_user).post(LIST, body(output, **CUSTOM_SQL), format="json")
    assert response.status_code == 201, response.json()
    assert Check.objects.get().params == CUSTOM_SQL["params"]


def test_stewards_may_not_change_or_delete_custom_sql(api, bob, output):
    custom = factories.CheckFactory(output=output, **CUSTOM_SQL)
    client = api(bob)
    for response in (client.patch(url(custom), {"name": "renamed"}, format="json"), client.delete(url(custom))):
        assert response.status_code == 403
        assert "Only admins" in response.json()["detail"]
    custom.refresh_from_db()
    assert custom.name.startswith("check")


def test_stewards_may_not_turn_a_check_into_custom_sql(api, bob, check):
    response = api(bob).patch(url(check), CUSTOM_SQL, format="json")
    assert response.status_code == 403
    check.refresh_from_db()
    assert check.check_type == "row_count"


# --- SLOs measured --------------------------------------------------------------------------


def test_a_check_measures_slos_of_its_own_product(api, alice, output, product):
    slo = factories.SLOFactory(product=product)
    response = api(alice).post(LIST, body(output, slos=[slo.pk]), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["slos"] == [slo.pk]
    assert list(slo.checks.all()) == [Check.objects.get()]


def test_a_check_cannot_measure_another_products_slo(api, alice, output, draft, check):
    other = factories.SLOFactory(product=draft)
    response = api(alice).post(LIST, body(output, slos=[other.pk]), format="json")
    assert response.json() == {"slos": ["Every SLO must belong to the check's product."]}
    assert_refused(api(alice).patch(url(check), {"slos": [other.pk]}, format="json"), "slos")
    assert not other.checks.exists()


# --- Bad input: a 400 that names the field, nothing changed ---------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("check_type", "telepathy"),
        ("schedule", "every hour"),
        ("schedule", "0 * * * 8"),
        ("schedule", "1,,2 * * * *"),
        ("column", "colour"),
        ("threshold", "lots"),
        ("threshold", "1e400"),
        ("name", "bad\x00name"),
        ("column", "em\x00ail"),
        ("params", ["not", "an", "object"]),
        ("params", {"note": "nul\x00byte"}),
        ("params", {"nul\x00key": 1}),
        ("columns", "email"),
        ("columns", ["em\x00ail"]),
        ("severity", "apocalyptic"),
        ("enabled", "perhaps"),
        ("output", 10**30),
        ("slos", [10**30]),
    ],
)
def test_bad_input_is_named_and_nothing_is_saved(api, alice, output, field, value):
    response = api(alice).post(LIST, {**body(output), field: value}, format="json")
    assert_refused(response, field)
    assert not Check.objects.exists()


def test_an_infinite_number_in_params_is_refused(api, alice, output):
    # JSON has no infinity, but 1e400 parses as one; no database column or response could hold it.
    raw = '{"output": %d, "name": "big", "check_type": "invalid_count", "column": "amount", "params": {"max": 1e400}}'
    response = api(alice).post(LIST, data=raw % output.pk, content_type="application/json")
    assert_refused(response, "params")
    assert not Check.objects.exists()


@pytest.mark.parametrize(
    "fields, named",
    [
        ({"check_type": "invalid_count", "column": "amount", "params": {"min": "zero"}}, "params"),
        ({"check_type": "duplicate_count", "column": "", "columns": ["id", "colour"]}, "columns"),
        ({"operator": "between", "threshold": 5}, "threshold_high"),
        ({"operator": "between", "threshold": 5, "threshold_high": 1}, "threshold_high"),
        ({"check_type": "freshness", "column": "amount", "params": {"max_age_hours": -1}}, "params"),
    ],
)
def test_model_rules_are_named(api, alice, output, fields, named):
    assert_refused(api(alice).post(LIST, body(output, **fields), format="json"), named)
    assert not Check.objects.exists()


def test_a_bad_update_changes_nothing(api, alice, check):
    client = api(alice)
    for change, named in [({"schedule": "61 * * * *"}, "schedule"), ({"params": {"x": "\x00"}}, "params")]:
        assert_refused(client.patch(url(check), change, format="json"), named)
    check.refresh_from_db()
    assert (check.schedule, check.params) == ("0 * * * *", {})


def test_a_name_is_unique_on_its_output(api, alice, check, output):
    assert_refused(api(alice).post(LIST, body(output, name="rows present"), format="json"), "name")
    assert Check.objects.count() == 1


def test_a_megabyte_of_params_is_refused(api, alice, output):
    params = {"allowed_values": ["x" * 1000] * 1000}
    response = api(alice).post(LIST, body(output, check_type="invalid_count", params=params), format="json")
    assert_refused(response, "params")


# --- Reading --------------------------------------------------------------------------------


def test_last_run_is_null_until_the_first_run_then_the_newest(api, alice, check):
    client = api(alice)
    assert client.get(url(check)).json()["last_run"] is None
    finished_run(check, "pass", hours_ago=2)
    newest = finished_run(check, "fail", hours_ago=1, observed=7)
    last = client.get(url(check)).json()["last_run"]
    assert last == {
        "id": newest.pk,
        "status": "fail",
        "observed_value": 7.0,
        "scheduled_for": newest.scheduled_for.isoformat().replace("+00:00", "Z"),
    }


def test_it_filters_by_product_output_type_enabled_and_severity(api, alice, output, draft_output):
    rows = factories.CheckFactory(output=output, name="rows")
    missing = factories.CheckFactory(output=output, check_type="missing_count", column="email", severity="warn")
    off = factories.CheckFactory(output=draft_output, enabled=False)
    client = api(alice)

    def ids(query: str) -> set[int]:
        response = client.get(f"{LIST}?{query}")
        assert response.status_code == 200, response.json()
        return {item["id"] for item in response.json()["results"]}

    assert ids("product=churn") == {off.pk}
    assert ids(f"output={output.pk}") == {rows.pk, missing.pk}
    assert ids("check_type=missing_count") == {missing.pk}
    assert ids("enabled=false") == {off.pk}
    assert ids("severity=warn") == {missing.pk}


BAD_FILTERS = ["check_type=telepathy", "severity=loud", "output=one", "output=1.5", f"output={10**30}", "product=a%00b"]


@pytest.mark.parametrize("query", BAD_FILTERS)
def test_a_bad_filter_is_a_400_naming_it(api, alice, query):
    response = api(alice).get(f"{LIST}?{query}")
    assert_refused(response, query.split("=")[0])


def test_the_list_takes_the_same_queries_for_2_or_20_checks(api, alice, output, product):
    slo = factories.SLOFactory(product=product)
    client = api(alice)

    def add(count: int) -> None:
        for check in factories.CheckFactory.create_batch(count, output=output):
            check.slos.add(slo)
            finished_run(check, "pass")

    add(2)
    client.get(LIST)  # warm the caches any first request fills
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    add(18)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(LIST).json()["results"]) == 20
    assert len(many) == len(few)
