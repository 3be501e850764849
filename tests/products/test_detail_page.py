"""The product page: who may see it, and what each of its sections shows."""

import datetime

import pytest
from django.urls import reverse

from products import panels
from products.models import DataProduct
from tests import factories


@pytest.fixture
def spec(product, alice):
    """A full spec on alice's published product."""
    goal = factories.GoalFactory(
        product=product,
        title="Grow cross-sell revenue",
        success_measure="share of revenue from second lines",
        target_value=15,
        target_unit="%",
        target_date=datetime.date(2026, 12, 31),
    )
    initiative = factories.InitiativeFactory(product=product, title="Weekly propensity scores")
    initiative.goals.add(goal)
    hypothesis = factories.HypothesisFactory(
        product=product,
        title="Scores focus the sales team",
        goal=goal,
        initiative=initiative,
        status="validated",
        evidence="Pilot: **+3 pp** in 8 weeks.",
    )
    use_case = factories.UseCaseFactory(product=product, title="Weekly call list", priority="high")
    use_case.hypotheses.add(hypothesis)
    factories.UsagePatternFactory(product=product, name="Monday call planning", freshness_need="By Monday 06:00")
    scores = factories.OutputFactory(product=product, name="customer_scores")
    factories.OutputColumnFactory(output=scores, name="customer_id", role="key")
    factories.OutputColumnFactory(output=scores, name="email", classification="pii")
    factories.OutputColumnFactory(output=scores, name="revenue", data_type="decimal", role="measure")
    factories.OutputColumnFactory(output=scores, name="month", data_type="date", role="time")
    north_star = factories.KPIFactory(
        product=product,
        name="Cross-sell revenue share",
        level="north_star",
        unit="%",
        target=15,
        output=scores,
        aggregation="sum",
        column="revenue",
        grain="month",
    )
    product.north_star = north_star
    product.save()
    level_1 = factories.KPIFactory(product=product, name="Customers with two lines", parent=north_star, level="l1")
    factories.KPIFactory(
        product=product, name="Acceptance rate", parent=level_1, level="l2", direction="down", indicator_type="leading"
    )
    factories.KPIFactory(product=product, name="Bundle views", level="l2")  # no parent
    factories.SLOFactory(product=product, name="Scores fresh on Monday", category="quality", objective_percent="99.5")
    return product


def page(client, user, product):
    client.force_login(user)
    return client.get(reverse("products:detail", kwargs={"slug": product.slug}))


def test_it_sends_anonymous_visitors_to_the_login_page(client, product):
    response = client.get(product.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_shows_a_published_product_to_everyone_signed_in(client, charlie, product):
    response = page(client, charlie, product)
    assert response.status_code == 200
    assert "Cross-sell" in response.content.decode()


def test_it_hides_drafts_from_outsiders(client, charlie, draft):
    assert page(client, charlie, draft).status_code == 404


@pytest.mark.parametrize("person", ["alice", "bob", "admin_user"])
def test_it_shows_drafts_to_their_owner_stewards_and_admins(client, request, person, draft):
    assert page(client, request.getfixturevalue(person), draft).status_code == 200


def test_an_unknown_product_is_a_404_in_the_site_look(client, charlie):
    client.force_login(charlie)
    response = client.get(reverse("products:detail", kwargs={"slug": "no-such-product"}))
    assert response.status_code == 404
    assert "This page isn’t here" in response.content.decode()


@pytest.mark.parametrize(
    "person, sees_edit", [("alice", True), ("bob", True), ("admin_user", True), ("charlie", False)]
)
def test_it_offers_edit_only_to_those_who_may_change(client, request, person, sees_edit, product):
    html = page(client, request.getfixturevalue(person), product).content.decode()
    assert (reverse("products:edit", kwargs={"slug": product.slug}) in html) is sees_edit


def test_the_header_shows_status_version_domain_tags_owner_stewards_and_teams(client, charlie, product):
    product.tags.add(factories.TagFactory(name="revenue"))
    product.consumer_teams.add(factories.TeamFactory(name="Sales operations"))
    product.owner.first_name, product.owner.last_name = "Alice", "Martin"
    product.owner.save()
    html = page(client, charlie, product).content.decode()
    for text in [
        "Published",
        f"v{product.version}",
        product.domain.name,
        "revenue",
        "Alice Martin",
        "bob",
        "Sales operations",
    ]:
        assert text in html
    assert product.summary in html


def test_it_renders_the_vision_as_markdown(client, charlie, product):
    html = page(client, charlie, product).content.decode()
    assert "Help <strong>sales</strong> find cross-sell opportunities." in html


def test_the_why_section_chains_goals_hypotheses_initiatives_and_use_cases(client, charlie, spec):
    html = page(client, charlie, spec).content.decode()
    for text in [
        "Grow cross-sell revenue",
        "share of revenue from second lines",
        "31 Dec 2026",
        "Scores focus the sales team",
        "Validated",
        "<strong>+3 pp</strong>",
        "Weekly propensity scores",
        "Weekly call list",
    ]:
        assert text in html


def test_it_shows_usage_patterns_outputs_and_slos(client, charlie, spec):
    html = page(client, charlie, spec).content.decode()
    for text in ["Monday call planning", "By Monday 06:00", "customer_scores", "customer_id", "Scores fresh on Monday"]:
        assert text in html
    assert "99.5 %" in html
    assert "28 days" in html


def test_it_marks_pii_columns(client, charlie, spec):
    html = page(client, charlie, spec).content.decode()
    email_row = html[html.index("<code>email</code>") : html.index("</tr>", html.index("<code>email</code>"))]
    assert 'class="badge badge--pii"' in email_row
    id_row = html[html.index("<code>customer_id</code>") : html.index("</tr>", html.index("<code>customer_id</code>"))]
    assert "badge--pii" not in id_row
    assert "Contains PII" in html


def test_the_kpi_tree_runs_from_the_north_star_down(client, charlie, spec):
    response = page(client, charlie, spec)
    kpis = next(p for p in response.context["panels"] if p.name == "kpis")
    tree = [(node.kpi.name, node.depth, node.linked) for node in kpis.context["kpi_nodes"]]
    assert tree == [
        ("Cross-sell revenue share", 0, True),
        ("Customers with two lines", 1, True),
        ("Acceptance rate", 2, True),
        ("Bundle views", 2, False),  # no parent: listed at its level, after the tree
    ]
    html = response.content.decode()
    assert "sum(revenue) by month over customer_scores" in html
    assert "North star" in html
    assert "Not yet linked to the north star" in html


def test_kpi_calculation_reads_compactly():
    kpi = factories.KPIFactory.build(aggregation="count", column="", grain="week", filter="status = 'paid'")
    assert panels.kpi_calculation(kpi) == "count(*) by week where status = 'paid'"
    ratio = factories.KPIFactory.build(
        aggregation="ratio", column="revenue", denominator_aggregation="count_distinct", denominator_column="customer"
    )
    assert panels.kpi_calculation(ratio) == "revenue / count(distinct customer)"


def test_lineage_shows_upstream_inputs_and_visible_downstream_products(client, charlie, alice, product, draft):
    orders = factories.DataProductFactory(name="Orders")
    factories.ProductInputFactory(product=product, source_output=factories.OutputFactory(product=orders, name="orders"))
    factories.ProductInputFactory(product=product, kind="external", source_output=None, external_name="CRM export")
    scores = factories.OutputFactory(product=product, name="scores")
    factories.ProductInputFactory(product=factories.DataProductFactory(name="Attribution"), source_output=scores)
    factories.ProductInputFactory(product=draft, source_output=scores)  # alice's draft reads it too

    html = page(client, charlie, product).content.decode()
    assert orders.get_absolute_url() in html
    assert "CRM export" in html
    assert "Attribution" in html
    assert "Churn" not in html  # charlie may not see the draft downstream
    assert "Churn" in page(client, alice, product).content.decode()


def test_lineage_does_not_name_an_upstream_product_the_user_may_not_see(client, charlie, alice, product):
    secret = factories.DataProductFactory(name="Secret source", owner=alice, status="draft")
    factories.ProductInputFactory(product=product, source_output=factories.OutputFactory(product=secret))
    html = page(client, charlie, product).content.decode()
    assert "Secret source" not in html
    assert "A product you cannot see" in html


def test_other_apps_can_register_panels(client, charlie, product, settings, tmp_path):
    (tmp_path / "health.html").write_text(
        '<section id="{{ panel.name }}">Health of {{ product.name }}: {{ state }}</section>'
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}]
    panels.register_panel("health", "health.html", 35, lambda request, product: {"state": "green"}, title="Health")
    panels.register_panel("hidden", "health.html", 36, lambda request, product: None)
    try:
        response = page(client, charlie, product)
    finally:
        panels.unregister_panel("health")
        panels.unregister_panel("hidden")
    order = [p.name for p in response.context["panels"]]
    assert order.index("health") == order.index("usage") + 1
    assert "hidden" not in order
    assert "Health of Cross-sell: green" in response.content.decode()


def test_product_page_reads_only_through_the_policy(client, charlie, draft):
    """A guessed slug of a draft gives the same answer as a missing one."""
    client.force_login(charlie)
    missing = client.get(reverse("products:detail", kwargs={"slug": "missing"}))
    hidden = client.get(reverse("products:detail", kwargs={"slug": draft.slug}))
    assert missing.status_code == hidden.status_code == 404
    assert DataProduct.objects.filter(slug=draft.slug).exists()


def test_a_forbidden_action_is_a_403_in_the_site_look(client, charlie, product):
    client.force_login(charlie)
    response = client.get(reverse("products:edit", kwargs={"slug": product.slug}))
    assert response.status_code == 403
    html = response.content.decode()
    assert "You can’t do that here" in html
    assert "lodestar.css" in html
