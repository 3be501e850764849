"""The Django admin: every product model has pages that load, and connection secrets stay secret."""

import pytest
from django.contrib import admin
from django.urls import reverse

from products.models import (
    KPI,
    SLO,
    Connection,
    DataProduct,
    Domain,
    Goal,
    Hypothesis,
    Initiative,
    Output,
    OutputColumn,
    ProductInput,
    Tag,
    Team,
    UsagePattern,
    UseCase,
)
from tests import factories

SECRET = "s3cr3t-Pa55word"
PG_URL = f"postgresql://reader:{SECRET}@db.example.com:5432/warehouse"


@pytest.fixture
def connection(db):
    connection = Connection(name="Warehouse")
    connection.set_url(PG_URL)
    connection.save()
    return connection


@pytest.fixture
def everything(product, connection):
    """One of every model, on alice's product."""
    goal = factories.GoalFactory(product=product)
    initiative = factories.InitiativeFactory(product=product)
    initiative.goals.add(goal)
    hypothesis = factories.HypothesisFactory(product=product, goal=goal, initiative=initiative)
    use_case = factories.UseCaseFactory(product=product)
    use_case.hypotheses.add(hypothesis)
    output = factories.OutputFactory(product=product)
    table = factories.OutputFactory(
        product=product, kind="table", format="table", path="", connection=connection, table="sales.orders"
    )
    column = factories.OutputColumnFactory(output=output, classification="pii")
    kpi = factories.KPIFactory(product=product, level="north_star")
    product.tags.add(factories.TagFactory())
    product.consumer_teams.add(factories.TeamFactory())
    return {
        Domain: product.domain,
        Tag: product.tags.get(),
        Team: product.consumer_teams.get(),
        Connection: connection,
        DataProduct: product,
        Goal: goal,
        Initiative: initiative,
        Hypothesis: hypothesis,
        UseCase: use_case,
        UsagePattern: factories.UsagePatternFactory(product=product),
        Output: table,
        OutputColumn: column,
        ProductInput: factories.ProductInputFactory(product=product),
        KPI: kpi,
        SLO: factories.SLOFactory(product=product, kpi=kpi),
    }


MODELS = [Domain, Tag, Team, Connection, DataProduct, Goal, Initiative, Hypothesis, UseCase, UsagePattern]
MODELS += [Output, OutputColumn, ProductInput, KPI, SLO]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_product_model_is_registered():
    for model in MODELS:
        assert admin.site.is_registered(model), model


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_admin_pages_load_for_an_admin(client, admin_user, everything, model):
    client.force_login(admin_user)
    obj = everything[model]
    for url in (admin_url(model, "changelist"), admin_url(model, "add"), admin_url(model, "change", obj.pk)):
        assert client.get(url).status_code == 200, url


def test_the_product_admin_manages_object_permissions(client, admin_user, product):
    client.force_login(admin_user)
    change = client.get(admin_url(DataProduct, "change", product.pk)).content.decode()
    permissions = admin_url(DataProduct, "permissions", product.pk)
    assert permissions in change
    assert client.get(permissions).status_code == 200


def test_outsiders_cannot_open_the_admin(client, charlie):
    client.force_login(charlie)
    response = client.get(admin_url(DataProduct, "changelist"))
    assert response.status_code == 302


def test_the_connection_admin_never_shows_the_password(client, admin_user, everything, connection):
    client.force_login(admin_user)
    for url in (
        admin_url(Connection, "changelist"),
        admin_url(Connection, "change", connection.pk),
        admin_url(Output, "change", everything[Output].pk),
    ):
        html = client.get(url).content.decode()
        assert SECRET not in html, url
        assert connection.encrypted_url not in html, url
    change = client.get(admin_url(Connection, "change", connection.pk)).content.decode()
    assert "reader:***@db.example.com" in change


def test_the_connection_admin_encrypts_a_new_url(client, admin_user):
    client.force_login(admin_user)
    response = client.post(admin_url(Connection, "add"), {"name": "Replica", "description": "", "url": PG_URL})
    assert response.status_code == 302
    connection = Connection.objects.get(name="Replica")
    assert connection.url == PG_URL
    assert SECRET not in connection.encrypted_url
    assert connection.display_url == "postgresql://reader:***@db.example.com:5432/warehouse"
    assert connection.kind == "postgresql"


def test_the_connection_admin_keeps_the_url_when_left_blank(client, admin_user, connection):
    client.force_login(admin_user)
    url = admin_url(Connection, "change", connection.pk)
    response = client.post(url, {"name": "Warehouse", "description": "Main", "url": ""})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.url == PG_URL
    assert connection.description == "Main"


def test_the_connection_admin_refuses_a_bad_url_without_echoing_it(client, admin_user):
    client.force_login(admin_user)
    bad = f"mysql://root:{SECRET}@db/x"
    response = client.post(admin_url(Connection, "add"), {"name": "Bad", "description": "", "url": bad})
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not allowed" in html
    assert SECRET not in html
    assert not Connection.objects.filter(name="Bad").exists()


def test_a_new_connection_needs_a_url(client, admin_user):
    client.force_login(admin_user)
    response = client.post(admin_url(Connection, "add"), {"name": "Empty", "description": "", "url": ""})
    assert response.status_code == 200
    assert not Connection.objects.filter(name="Empty").exists()


def test_admin_forms_run_the_model_validation(client, admin_user, product):
    client.force_login(admin_user)
    other = factories.DataProductFactory()
    goal = factories.GoalFactory(product=other)
    initiative = factories.InitiativeFactory(product=product)
    response = client.post(
        admin_url(Hypothesis, "add"),
        {
            "product": product.pk,
            "title": "Crossed wires",
            "goal": goal.pk,
            "initiative": initiative.pk,
            "statement": "We believe…",
            "status": "proposed",
            "evidence": "",
        },
    )
    assert response.status_code == 200
    assert "must belong to the same product" in response.content.decode()
    assert not Hypothesis.objects.filter(title="Crossed wires").exists()
