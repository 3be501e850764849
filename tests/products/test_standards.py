"""ODCS v3 contracts and ODPS v1 descriptors, out of and back into spec documents; nothing dropped silently."""

import copy

import pytest

from products.specs.document import to_document
from products.standards import (
    StandardError,
    apply_odps,
    odcs_columns,
    odcs_contract,
    odps_product,
    with_columns,
)
from tests import factories

pytestmark = pytest.mark.django_db

COLUMNS = [
    ("order_id", "integer", "key", "internal", "redact"),
    ("email", "string", "attribute", "pii", "partial"),
    ("amount", "decimal", "measure", "internal", "redact"),
    ("ordered_at", "timestamp", "time", "internal", "redact"),
    ("region", "string", "dimension", "public", "redact"),
]


@pytest.fixture
def document(product, bob):
    product.version = "1.4.0"
    product.save()
    product.tags.add(factories.TagFactory(name="sales"))
    output = factories.OutputFactory(product=product, name="orders", description="One row per order.")
    for order, (name, data_type, role, classification, masking) in enumerate(COLUMNS):
        factories.OutputColumnFactory(
            output=output, name=name, data_type=data_type, role=role, classification=classification,
            masking=masking, order=order, description=f"The {name}.",
        )  # fmt: skip
    return to_document(product)


class TestODCS:
    def test_an_output_becomes_a_contract_of_its_product(self, document):
        contract = odcs_contract(document, "orders")
        assert contract["apiVersion"] == "v3.0.2" and contract["kind"] == "DataContract"
        assert contract["id"] == "cross-sell.orders" and contract["dataProduct"] == "cross-sell"
        assert contract["version"] == "1.4.0" and contract["status"] == "active"
        [table] = contract["schema"]
        email = next(prop for prop in table["properties"] if prop["name"] == "email")
        assert email["logicalType"] == "string" and email["classification"] == "pii"
        assert {"property": "lodestarMasking", "value": "partial"} in email["customProperties"]
        assert table["properties"][0]["primaryKey"] is True
        assert {"username": "alice", "role": "owner"} in contract["team"]

    def test_the_contract_gives_the_same_columns_back(self, document):
        mapped = odcs_columns(odcs_contract(document, "orders"))
        [output] = document["spec"]["outputs"]
        assert mapped.value == output["columns"]
        assert mapped.unmapped == []

    def test_what_has_no_place_is_named_not_dropped(self, document):
        contract = odcs_contract(document, "orders")
        contract["slaProperties"] = [{"property": "latency", "value": 4, "unit": "h"}]
        contract["schema"][0]["quality"] = [{"rule": "nullCheck"}]
        contract["schema"][0]["properties"][1]["examples"] = ["x@example.com"]
        contract["schema"][0]["properties"][2]["classification"] = "restricted"
        contract["schema"][0]["properties"][3]["customProperties"].append({"property": "owner", "value": "x"})
        contract["schema"].append({"name": "order_lines", "properties": []})
        mapped = odcs_columns(contract)
        assert mapped.unmapped == [
            "slaProperties",
            "schema[1]",
            "schema[0].quality",
            "schema[0].properties[1].examples",
            "schema[0].properties[2].classification",
            "schema[0].properties[3].customProperties[1]",
        ]
        assert mapped.value[2]["classification"] == "internal"  # until a steward classifies it here

    def test_a_contract_from_elsewhere_maps_logical_types(self):
        contract = {
            "apiVersion": "v3.0.0", "kind": "DataContract", "id": "urn:orders",
            "schema": [{"name": "orders", "properties": [
                {"name": "id", "logicalType": "integer", "primaryKey": True},
                {"name": "total", "logicalType": "number"},
                {"name": "placed", "logicalType": "date", "physicalType": "TIMESTAMP WITH TIME ZONE"},
            ]}],
        }  # fmt: skip
        columns = odcs_columns(contract).value
        assert [(c["name"], c["type"], c["role"]) for c in columns] == [
            ("id", "integer", "key"),
            ("total", "float", "attribute"),
            ("placed", "date", "attribute"),
        ]

    @pytest.mark.parametrize(
        "change, path",
        [
            ({"kind": "DataProduct"}, "kind"),
            ({"apiVersion": "v2.2.2"}, "apiVersion"),
            ({"id": ""}, "id"),
            ({"schema": []}, "schema"),
            ({"schema": [{"name": "x", "properties": {"id": 1}}]}, "schema[0].properties"),
            ({"schema": [{"name": "x", "properties": [{"logicalType": "string"}]}]}, "schema[0].properties[0].name"),
            (
                {"schema": [{"name": "x", "properties": [{"name": "tags", "logicalType": "array"}]}]},
                "schema[0].properties[0].logicalType",
            ),
        ],
    )
    def test_a_document_that_is_not_a_contract_is_refused_naming_where(self, document, change, path):
        contract = odcs_contract(document, "orders") | change
        with pytest.raises(StandardError) as caught:
            odcs_columns(contract)
        assert caught.value.path == path

    def test_with_columns_replaces_one_outputs_columns_in_a_copy(self, document):
        changed = with_columns(document, "orders", [{"name": "id", "type": "integer"}])
        assert changed["spec"]["outputs"][0]["columns"] == [{"name": "id", "type": "integer"}]
        assert len(document["spec"]["outputs"][0]["columns"]) == len(COLUMNS)


class TestODPS:
    def test_a_product_becomes_a_descriptor(self, document):
        descriptor = odps_product(document)
        assert descriptor["apiVersion"] == "v1.0.0" and descriptor["id"] == "cross-sell"
        assert descriptor["status"] == "active" and descriptor["tags"] == ["sales"]
        assert descriptor["outputPorts"] == [
            {
                "name": "orders",
                "version": "1.4.0",
                "contractId": "cross-sell.orders",
                "description": "One row per order.",
                "type": "file",
            }
        ]
        assert {"username": "bob", "role": "data steward"} in descriptor["team"]

    def test_the_descriptor_applied_to_its_product_changes_nothing(self, document):
        mapped = apply_odps(document, odps_product(document))
        assert mapped.value == document
        assert mapped.unmapped == []

    def test_product_facts_are_taken_and_the_rest_reported(self, document):
        descriptor = odps_product(document) | {
            "name": "Cross-sell v2",
            "status": "deprecated",
            "tenant": "RetailCorp",
            "support": [{"channel": "slack", "url": "https://x.example"}],
            "description": {"purpose": "Who buys what next.", "limitations": "EU only."},
        }
        descriptor["outputPorts"].append({"name": "returns", "version": "1.0.0"})
        descriptor["team"].append({"username": "carol", "role": "analyst"})
        mapped = apply_odps(document, descriptor)
        assert mapped.value["metadata"]["name"] == "Cross-sell v2"
        assert mapped.value["metadata"]["status"] == "deprecated"
        assert mapped.value["spec"]["summary"] == "Who buys what next."
        assert mapped.unmapped == [
            "support",
            "tenant",
            "description.limitations",
            "team[2]",
            "outputPorts[1] ('returns': no output of that name)",
        ]
        assert document["metadata"]["name"] == "Cross-sell"  # the original is untouched

    def test_a_descriptor_of_another_product_is_refused(self, document):
        descriptor = copy.deepcopy(odps_product(document)) | {"id": "sales-intelligence"}
        with pytest.raises(StandardError) as caught:
            apply_odps(document, descriptor)
        assert caught.value.path == "id"
