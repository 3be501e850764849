"""The Django admin writes a spec under the same rules as the API: the semver rule and change review."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from products import versions
from products.history import ChangeRequest, VersionSource
from quality.models import Check
from tests import factories

pytestmark = pytest.mark.django_db


def post_data(page) -> dict:
    """What the admin's change form posts back unchanged: the form and its inlines as shown."""
    forms, data = [page.context["adminform"].form], {}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data |= {f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()}
        forms += formset.forms
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:
                data[form[name].html_name] = value
    return data


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def errors(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


def removing_email(client, orders) -> dict:
    page = client.get(change_url(orders))
    data = post_data(page)
    formset = page.context["inline_admin_formsets"][0].formset
    email = next(form for form in formset.forms if form.instance.name == "email")
    data[f"{email.prefix}-DELETE"] = "on"
    return data


def test_removing_a_column_without_a_bump_is_refused(client, admin_user, orders):
    client.force_login(admin_user)
    response = client.post(change_url(orders), removing_email(client, orders))
    assert response.status_code == 302 and response.url == change_url(orders)
    assert "column 'email' removed" in errors(response)[0] and "2.0.0" in errors(response)[0]
    assert sorted(orders.columns.values_list("name", flat=True)) == ["email", "id"]
    assert versions.latest(orders.product).number == 1


def test_removing_a_column_with_the_bump_beside_it_works(
    client, admin_user, orders, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    data = removing_email(client, orders) | {"product_version": "2.0.0"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url(orders), data)
    assert response.status_code == 302 and not errors(response)
    orders.product.refresh_from_db()
    assert list(orders.columns.values_list("name", flat=True)) == ["id"]
    assert orders.product.version == "2.0.0"
    latest = versions.latest(orders.product)
    assert (latest.number, latest.version, latest.source) == (2, "2.0.0", VersionSource.ADMIN)


def test_a_bad_product_version_is_a_form_error(client, admin_user, orders):
    client.force_login(admin_user)
    response = client.post(change_url(orders), removing_email(client, orders) | {"product_version": "two"})
    assert response.status_code == 200
    assert "product_version" in response.context["adminform"].form.errors
    assert orders.columns.count() == 2


def test_deleting_a_column_in_the_admin_is_refused_without_a_bump(client, admin_user, orders):
    column = orders.columns.get(name="email")
    client.force_login(admin_user)
    delete_url = reverse("admin:products_outputcolumn_delete", args=[column.pk])
    response = client.post(delete_url, {"post": "yes"})
    assert response.status_code == 302 and response.url == change_url(column)
    assert "column 'email' removed" in errors(response)[0]
    assert orders.columns.filter(pk=column.pk).exists()


def test_deleting_outputs_from_the_list_is_refused_without_a_bump(client, admin_user, orders):
    client.force_login(admin_user)
    changelist = reverse("admin:products_output_changelist")
    response = client.post(changelist, {"action": "delete_selected", "_selected_action": [orders.pk], "post": "yes"})
    assert response.status_code == 302
    assert "output 'orders' removed" in errors(response)[0]
    assert orders.product.outputs.filter(pk=orders.pk).exists()


def test_removing_an_output_from_the_product_with_its_version_bumped_works(client, admin_user, orders):
    client.force_login(admin_user)
    page = client.get(change_url(orders.product))
    data = post_data(page)
    inlines = page.context["inline_admin_formsets"]
    outputs = next(inline.formset for inline in inlines if inline.formset.model is type(orders))
    data[f"{outputs.forms[0].prefix}-DELETE"] = "on"
    response = client.post(change_url(orders.product), data)
    assert "output 'orders' removed" in errors(response)[0]
    assert orders.product.outputs.exists()
    client.get(response.url)  # the message is shown, and so used
    response = client.post(change_url(orders.product), data | {"version": "2.0.0"})
    assert response.status_code == 302 and not errors(response)
    assert not orders.product.outputs.exists()


def test_adding_a_column_needs_no_bump(client, admin_user, orders):
    client.force_login(admin_user)
    data = post_data(client.get(change_url(orders)))
    prefix = "columns"
    data |= {
        f"{prefix}-TOTAL_FORMS": int(data[f"{prefix}-TOTAL_FORMS"]) + 1,
        f"{prefix}-2-name": "amount",
        f"{prefix}-2-data_type": "decimal",
        f"{prefix}-2-role": "measure",
        f"{prefix}-2-classification": "internal",
        f"{prefix}-2-masking": "redact",
        f"{prefix}-2-order": 2,
    }
    response = client.post(change_url(orders), data)
    assert response.status_code == 302 and not errors(response)
    assert orders.columns.count() == 3


# --- Change review -----------------------------------------------------------------------------


@pytest.fixture
def staff_steward(bob):
    """Bob, alice's steward, with the admin's model permissions on goals and checks."""
    bob.is_staff = True
    bob.save()
    codenames = ["view_goal", "change_goal", "delete_goal", "view_check", "change_check"]
    bob.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return bob


def test_a_stewards_admin_edit_of_a_reviewed_product_is_refused(client, staff_steward, product):
    product.review_changes = True
    product.save()
    goal = factories.GoalFactory(product=product, title="Grow")
    check = factories.CheckFactory(output=factories.OutputFactory(product=product), name="rows")
    client.force_login(staff_steward)
    for obj in (goal, check):
        data = post_data(client.get(change_url(obj)))
        response = client.post(change_url(obj), data | {"title": "Renamed", "name": "renamed"})
        assert response.status_code == 302
        assert "go through review" in errors(response)[0]
    response = client.post(reverse("admin:products_goal_delete", args=[goal.pk]), {"post": "yes"})
    assert "go through review" in errors(response)[0]
    goal.refresh_from_db()
    assert goal.title == "Grow" and Check.objects.get(pk=check.pk).name == "rows"
    assert not ChangeRequest.objects.exists()


def test_without_review_the_steward_edits_in_the_admin(client, staff_steward, product):
    goal = factories.GoalFactory(product=product, title="Grow")
    client.force_login(staff_steward)
    response = client.post(change_url(goal), post_data(client.get(change_url(goal))) | {"title": "Renamed"})
    assert response.status_code == 302 and not errors(response)
    goal.refresh_from_db()
    assert goal.title == "Renamed"
