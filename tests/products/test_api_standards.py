"""ODCS contracts and ODPS descriptors over the API: out as YAML, in through the spec importer, originals kept."""

import pytest
import yaml

from products.models import OutputColumn
from products.originals import OriginalDocument
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(product):
    output = factories.OutputFactory(product=product, name="orders")
    columns = [("order_id", "integer", "key"), ("region", "string", "dimension")]
    for order, (name, data_type, role) in enumerate(columns):
        factories.OutputColumnFactory(output=output, name=name, data_type=data_type, role=role, order=order)
    return output


def contract_url(output) -> str:
    return f"/api/v1/outputs/{output.pk}/contract/"


def put_yaml(client, url: str, data, query: str = ""):
    body = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    return client.put(url + query, body, content_type="application/yaml")


def columns_of(output) -> list[tuple]:
    return list(OutputColumn.objects.filter(output=output).values_list("name", "data_type", "role", "classification"))


class TestContract:
    def test_anyone_who_sees_the_output_gets_its_contract(self, api, charlie, orders):
        response = api(charlie).get(contract_url(orders))
        assert response.status_code == 200 and response["Content-Type"].startswith("application/yaml")
        contract = yaml.safe_load(response.content)
        assert contract["kind"] == "DataContract" and contract["id"] == "cross-sell.orders"
        assert [p["name"] for p in contract["schema"][0]["properties"]] == ["order_id", "region"]

    def test_a_steward_sets_the_columns_from_a_contract_and_the_original_is_kept(self, api, bob, orders):
        client = api(bob)
        contract = yaml.safe_load(client.get(contract_url(orders)).content)
        contract["schema"][0]["properties"].append(
            {"name": "email", "logicalType": "string", "classification": "pii", "examples": ["a@example.com"]}
        )
        contract["servers"] = [{"server": "prod", "type": "postgres"}]
        response = put_yaml(client, contract_url(orders), contract)
        assert response.status_code == 200, response.content
        assert response.json()["unmapped"] == ["servers", "schema[0].properties[2].examples"]
        assert ("email", "string", "attribute", "pii") in columns_of(orders)
        original = OriginalDocument.objects.get()
        assert original.standard == "odcs" and original.output == orders and original.imported_by == bob
        assert "servers:" in original.content and original.unmapped == response.json()["unmapped"]

    def test_a_dry_run_reports_and_keeps_nothing(self, api, bob, orders):
        client = api(bob)
        contract = yaml.safe_load(client.get(contract_url(orders)).content)
        contract["schema"][0]["properties"].append({"name": "channel", "logicalType": "string"})  # not breaking
        before = columns_of(orders)
        response = put_yaml(client, contract_url(orders), contract, "?dry_run=true")
        assert response.status_code == 200 and response.json()["dry_run"] is True
        assert any("channel" in line for line in response.json()["products"][0]["changes"])
        assert columns_of(orders) == before and not OriginalDocument.objects.exists()

    def test_outsiders_may_read_but_not_write_and_drafts_stay_hidden(self, api, charlie, orders, draft):
        hidden = factories.OutputFactory(product=draft, name="secret")
        client = api(charlie)
        assert put_yaml(client, contract_url(orders), "kind: DataContract").status_code == 403
        assert client.get(contract_url(hidden)).status_code == 404
        assert api(None).get(contract_url(orders)).status_code == 401

    @pytest.mark.parametrize(
        "body, path, line",
        [
            ("apiVersion: v3.0.2\nkind: DataContract\nid: x\nschema: [\n", "(document)", 5),
            ("apiVersion: v9\nkind: DataContract\nid: x\n", "apiVersion", 1),
            ("apiVersion: v3.0.2\nkind: DataContract\nid: x\nschema:\n  - name: o\n    properties:\n"
             "      - name: tags\n        logicalType: array\n", "schema[0].properties[0].logicalType", 8),
            ("a: &x [1]\nb: *x\n", "(document)", 1),
            ("apiVersion: v3.0.2\napiVersion: v3.0.2\n", "apiVersion", 2),
        ],
    )  # fmt: skip
    def test_bad_documents_are_400_with_line_and_path_and_change_nothing(self, api, bob, orders, body, path, line):
        before = columns_of(orders)
        response = put_yaml(api(bob), contract_url(orders), body)
        assert response.status_code == 400
        [error] = response.json()["errors"]
        assert (error["path"], error["line"]) == (path, line)
        assert columns_of(orders) == before and not OriginalDocument.objects.exists()


class TestODPS:
    def test_the_product_as_a_descriptor_and_back(self, api, alice, product, orders):
        client = api(alice)
        descriptor = yaml.safe_load(client.get(f"/api/v1/products/{product.slug}/odps/").content)
        assert descriptor["kind"] == "DataProduct" and descriptor["outputPorts"][0]["name"] == "orders"
        descriptor["name"] = "Cross-sell (ODPS)"
        descriptor["tenant"] = "RetailCorp"
        response = put_yaml(client, f"/api/v1/products/{product.slug}/odps/", descriptor)
        assert response.status_code == 200, response.content
        assert response.json()["unmapped"] == ["tenant"]
        product.refresh_from_db()
        assert product.name == "Cross-sell (ODPS)"
        assert OriginalDocument.objects.get().standard == "odps"

    def test_a_descriptor_of_another_product_is_refused(self, api, alice, product):
        client = api(alice)
        descriptor = yaml.safe_load(client.get(f"/api/v1/products/{product.slug}/odps/").content)
        descriptor["id"] = "someone-else"
        response = put_yaml(client, f"/api/v1/products/{product.slug}/odps/", descriptor)
        assert response.status_code == 400 and response.json()["errors"][0]["path"] == "id"

    def test_an_unknown_owner_in_the_team_is_refused_and_nothing_written(self, api, alice, product):
        client = api(alice)
        descriptor = yaml.safe_load(client.get(f"/api/v1/products/{product.slug}/odps/").content)
        descriptor["team"] = [{"username": "nobody-here", "role": "owner"}]
        descriptor["name"] = "Renamed"
        response = put_yaml(client, f"/api/v1/products/{product.slug}/odps/", descriptor)
        assert response.status_code == 400
        assert "nobody-here" in str(response.json()["errors"])
        product.refresh_from_db()
        assert product.name == "Cross-sell" and not OriginalDocument.objects.exists()
