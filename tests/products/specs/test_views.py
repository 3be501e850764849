"""The spec on the product page: a download link for readers, a YAML editor with preview for editors."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from products.models import Goal
from products.specs.document import dump, to_yaml

from .conftest import counts, spec_of

pytestmark = pytest.mark.django_db


def test_the_product_page_links_the_download_for_readers_and_the_editor_for_editors(client, product, charlie, bob):
    client.force_login(charlie)
    page = client.get(product.get_absolute_url()).content.decode()
    assert "/products/cross-sell/spec.yaml" in page and "Edit as YAML" not in page
    client.force_login(bob)
    assert "/products/cross-sell/spec/" in client.get(product.get_absolute_url()).content.decode()


def test_the_download_is_the_spec_as_an_attachment(client, product, draft, charlie):
    client.force_login(charlie)
    response = client.get("/products/cross-sell/spec.yaml")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="cross-sell.yaml"'
    assert response.content.decode() == to_yaml(product)
    assert client.get("/products/churn/spec.yaml").status_code == 404


def test_the_editor_is_for_those_who_may_change(client, product, charlie, bob):
    client.force_login(charlie)
    assert client.get("/products/cross-sell/spec/").status_code == 403
    assert client.post("/products/cross-sell/spec/", {"yaml": to_yaml(product)}).status_code == 403
    client.force_login(bob)
    response = client.get("/products/cross-sell/spec/")
    assert response.status_code == 200 and "apiVersion: lodestar/v1" in response.content.decode()


def test_preview_shows_the_change_and_writes_nothing_then_import_applies_it(client, product, bob):
    data = spec_of(product)
    data["spec"]["goals"] = [{"title": "Grow revenue"}]
    client.force_login(bob)
    before = counts()
    response = client.post("/products/cross-sell/spec/", {"yaml": dump(data), "preview": "1"})
    assert response.status_code == 200
    assert "+ goal &#x27;Grow revenue&#x27;" in response.content.decode()
    assert counts() == before
    response = client.post("/products/cross-sell/spec/", {"yaml": dump(data), "import": "1"})
    assert response.status_code == 302 and Goal.objects.get().title == "Grow revenue"


def test_errors_show_inline_with_their_lines_and_nothing_is_written(client, product, bob):
    text = to_yaml(product).replace("  name: Cross-sell\n", "  name: Cross-sell\n  colour: red\n")
    client.force_login(bob)
    before = counts()
    response = client.post("/products/cross-sell/spec/", {"yaml": text, "import": "1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "line 6, column 11" in page and "metadata.colour" in page and "unknown field" in page
    assert "colour: red" in page  # the text stays to be fixed
    assert counts() == before


def test_an_uploaded_file_is_imported_and_may_not_rename_the_product(client, product, bob):
    data = spec_of(product)
    data["metadata"]["slug"] = "renamed"
    client.force_login(bob)
    upload = SimpleUploadedFile("spec.yaml", dump(data).encode(), content_type="application/yaml")
    response = client.post("/products/cross-sell/spec/", {"file": upload, "import": "1"})
    assert response.status_code == 400
    assert "a spec cannot rename its product" in response.content.decode()
