from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_migrate_creates_the_product_managers_role():
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="Product managers")
    assert set(group.permissions.values_list("codename", flat=True)) >= {"add_dataproduct", "add_tag"}
