"""Open standards in and out: an output's contract as ODCS v3, a product as Bitol ODPS v1.

Both work on the spec document (``products.specs.document``), so they never touch models:

* ``odcs_contract(document, output_name)`` → an Open Data Contract Standard v3 contract for one output;
  ``odcs_columns(contract)`` → that output's columns back, with what could not be mapped.
* ``odps_product(document)`` → an Open Data Product Standard v1 descriptor for the product;
  ``apply_odps(document, descriptor)`` → the document with the descriptor's product facts.

Nothing is dropped silently: every key of an imported document that has no place in a
Lodestar spec is named in the ``Mapping.unmapped`` list ("schema[0].quality"), and the caller
keeps the original document beside the product.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

ODCS_API_VERSION = "v3.0.2"
ODCS_VERSIONS = ("v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0")
ODPS_API_VERSION = "v1.0.0"
ODPS_VERSIONS = ("v0.9.0", "v1.0.0")

# Lodestar's lifecycle and ODPS/ODCS's status words.
STATUS_OUT = {"draft": "draft", "published": "active", "deprecated": "deprecated", "retired": "retired"}
STATUS_IN = {"proposed": "draft", "draft": "draft", "active": "published", "deprecated": "deprecated"} | {
    "retired": "retired"
}
# Column types: ODCS logical types are coarser, so the exact type travels as the physical type.
LOGICAL_TYPE = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "decimal": "number",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "date",
}
TYPE_FROM_LOGICAL = {"string": "string", "integer": "integer", "number": "float", "boolean": "boolean", "date": "date"}
COLUMN_TYPES = set(LOGICAL_TYPE)
ROLES = {"key", "dimension", "measure", "time", "attribute"}
CLASSIFICATIONS = {"public", "internal", "pii"}
MASKINGS = {"redact", "hash", "partial", "null"}
# What each side knows about a property, beyond which the rest is reported as unmapped.
PROPERTY_KEYS = {"name", "logicalType", "physicalType", "primaryKey", "classification", "description"}
PROPERTY_KEYS |= {"customProperties"}
CONTRACT_KEYS = {"apiVersion", "kind", "id", "name", "version", "status", "domain", "dataProduct", "description"}
CONTRACT_KEYS |= {"schema", "tags", "team"}


class StandardError(ValueError):
    """A document that is not the standard it claims to be; ``path`` names where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass
class Mapping:
    """A mapped result and the paths of the keys that had no place in it."""

    value: object
    unmapped: list[str] = field(default_factory=list)


# --- ODCS: one output's contract ----------------------------------------------------------------


def contract_id(slug: str, output_name: str) -> str:
    return f"{slug}.{output_name}"


def odcs_contract(document: dict, output_name: str) -> dict:
    """The ODCS v3 contract of ``output_name`` in the product ``document``."""
    meta, spec = document["metadata"], document["spec"]
    output = find_output(spec, output_name)
    contract = {
        "apiVersion": ODCS_API_VERSION,
        "kind": "DataContract",
        "id": contract_id(meta["slug"], output_name),
        "name": output_name,
        "version": meta["version"],
        "status": STATUS_OUT[meta["status"]],
        "domain": meta["domain"],
        "dataProduct": meta["slug"],
    }
    if output.get("description"):
        contract["description"] = {"purpose": output["description"]}
    contract["schema"] = [schema_object(output)]
    if meta.get("tags"):
        contract["tags"] = list(meta["tags"])
    contract["team"] = team(meta)
    return contract


def find_output(spec: dict, output_name: str) -> dict:
    for output in spec.get("outputs", []):
        if output["name"] == output_name:
            return output
    raise KeyError(f"The product has no output {output_name!r}.")


def schema_object(output: dict) -> dict:
    physical = output.get("table") or output.get("path") or output["name"]
    result = {
        "name": output["name"],
        "physicalName": physical,
        "physicalType": "table" if output.get("kind") == "table" else "file",
        "logicalType": "object",
    }
    if output.get("description"):
        result["description"] = output["description"]
    result["properties"] = [odcs_property(column) for column in output.get("columns", [])]
    return result


def odcs_property(column: dict) -> dict:
    result = {
        "name": column["name"],
        "logicalType": LOGICAL_TYPE[column["type"]],
        "physicalType": column["type"],
        "classification": column["classification"],
    }
    if column.get("role") == "key":
        result["primaryKey"] = True
    if column.get("description"):
        result["description"] = column["description"]
    custom = [{"property": "lodestarRole", "value": column["role"]}]
    if column.get("masking"):
        custom.append({"property": "lodestarMasking", "value": column["masking"]})
    result["customProperties"] = custom
    return result


def team(meta: dict) -> list[dict]:
    members = [{"username": meta["owner"], "role": "owner"}]
    return members + [{"username": name, "role": "data steward"} for name in meta.get("stewards", [])]


def odcs_columns(contract: dict) -> Mapping:
    """The columns an ODCS v3 contract describes (its first schema object), as spec columns."""
    check_header(contract, "DataContract", ODCS_VERSIONS)
    unmapped = [key for key in sorted(contract) if key not in CONTRACT_KEYS]
    objects = contract.get("schema")
    if not isinstance(objects, list) or not objects or not isinstance(objects[0], dict):
        raise StandardError("schema", "expected a list with the output's schema object")
    unmapped += [f"schema[{index}]" for index in range(1, len(objects))]
    first = objects[0]
    unmapped += [f"schema[0].{key}" for key in sorted(first) if key not in SCHEMA_OBJECT_KEYS]
    properties = first.get("properties")
    if not isinstance(properties, list):
        raise StandardError("schema[0].properties", "expected a list of properties")
    columns = []
    for index, prop in enumerate(properties):
        column, left_out = spec_column(prop, f"schema[0].properties[{index}]")
        columns.append(column)
        unmapped += left_out
    return Mapping(columns, unmapped)


SCHEMA_OBJECT_KEYS = {"name", "physicalName", "physicalType", "logicalType", "description", "properties"}


def spec_column(prop: dict, path: str) -> tuple[dict, list[str]]:
    if not isinstance(prop, dict) or not isinstance(prop.get("name"), str) or not prop["name"]:
        raise StandardError(f"{path}.name", "every property needs a name")
    unmapped = [f"{path}.{key}" for key in sorted(prop) if key not in PROPERTY_KEYS]
    custom, left_out = custom_properties(prop.get("customProperties", []), f"{path}.customProperties")
    unmapped += left_out
    column = {
        "name": prop["name"],
        "type": column_type(prop, path),
        "role": role_of(prop, custom),
        "classification": classification_of(prop, path, unmapped),
    }
    if custom.get("lodestarMasking") in MASKINGS:
        column["masking"] = custom["lodestarMasking"]
    if prop.get("description"):
        column["description"] = str(prop["description"])
    return column, unmapped


def custom_properties(items, path: str) -> tuple[dict, list[str]]:
    known, unmapped = {}, []
    for index, item in enumerate(items if isinstance(items, list) else []):
        name = item.get("property") if isinstance(item, dict) else None
        if name in {"lodestarRole", "lodestarMasking"}:
            known[name] = item.get("value")
        else:
            unmapped.append(f"{path}[{index}]")
    return known, unmapped


def column_type(prop: dict, path: str) -> str:
    if prop.get("physicalType") in COLUMN_TYPES:
        return prop["physicalType"]
    logical = prop.get("logicalType")
    if logical in TYPE_FROM_LOGICAL:
        return TYPE_FROM_LOGICAL[logical]
    raise StandardError(f"{path}.logicalType", f"{logical!r} has no column type here (string, integer, number, …)")


def role_of(prop: dict, custom: dict) -> str:
    if prop.get("primaryKey") is True:
        return "key"
    role = custom.get("lodestarRole")
    return role if role in ROLES else "attribute"


def classification_of(prop: dict, path: str, unmapped: list[str]) -> str:
    value = prop.get("classification")
    if value is None:
        return "internal"
    if value in CLASSIFICATIONS:
        return value
    # A classification of another scheme ("restricted", "confidential") is kept in the original
    # document and reported; the column stays internal until a steward classifies it here.
    unmapped.append(f"{path}.classification")
    return "internal"


def with_columns(document: dict, output_name: str, columns: list[dict]) -> dict:
    """A copy of ``document`` whose output ``output_name`` has ``columns``."""
    result = copy.deepcopy(document)
    find_output(result["spec"], output_name)["columns"] = columns
    return result


# --- ODPS: the product ---------------------------------------------------------------------------


def odps_product(document: dict) -> dict:
    """The ODPS v1 descriptor of the product ``document``."""
    meta, spec = document["metadata"], document["spec"]
    descriptor = {
        "apiVersion": ODPS_API_VERSION,
        "kind": "DataProduct",
        "id": meta["slug"],
        "name": meta["name"],
        "version": meta["version"],
        "status": STATUS_OUT[meta["status"]],
        "domain": meta["domain"],
    }
    description = {key: spec[value] for key, value in (("purpose", "summary"), ("usage", "vision")) if spec.get(value)}
    if description:
        descriptor["description"] = description
    if meta.get("tags"):
        descriptor["tags"] = list(meta["tags"])
    inputs = [input_port(item) for item in spec.get("inputs", []) if "output" in item]
    if inputs:
        descriptor["inputPorts"] = inputs
    descriptor["outputPorts"] = [output_port(meta, output) for output in spec.get("outputs", [])]
    descriptor["team"] = team(meta)
    return descriptor


def input_port(item: dict) -> dict:
    slug, name = item["output"].split("/", 1)
    return {"name": item["output"], "version": "*", "contractId": contract_id(slug, name)}


def output_port(meta: dict, output: dict) -> dict:
    port = {"name": output["name"], "version": meta["version"], "contractId": contract_id(meta["slug"], output["name"])}
    if output.get("description"):
        port["description"] = output["description"]
    port["type"] = "table" if output.get("kind") == "table" else "file"
    return port


ODPS_KEYS = {"apiVersion", "kind", "id", "name", "version", "status", "domain", "description", "tags", "team"}
ODPS_KEYS |= {"outputPorts", "inputPorts"}


def apply_odps(document: dict, descriptor: dict) -> Mapping:
    """``document`` updated with the product facts of an ODPS descriptor (outputs are matched by name).

    Output ports name outputs; their schema and location live in contracts, so a port with no
    output of that name is reported rather than invented.
    """
    check_header(descriptor, "DataProduct", ODPS_VERSIONS)
    result = copy.deepcopy(document)
    meta, spec = result["metadata"], result["spec"]
    unmapped = [key for key in sorted(descriptor) if key not in ODPS_KEYS]
    if descriptor["id"] != meta["slug"]:
        raise StandardError("id", f"names {descriptor['id']!r}, not this product ({meta['slug']!r})")
    for key in ("name", "version", "domain"):
        if isinstance(descriptor.get(key), str) and descriptor[key]:
            meta[key] = descriptor[key]
    apply_status(meta, descriptor, unmapped)
    apply_description(spec, descriptor.get("description"), unmapped)
    if isinstance(descriptor.get("tags"), list):
        meta["tags"] = sorted(str(tag) for tag in descriptor["tags"])
    apply_team(meta, descriptor.get("team"), unmapped)
    unmapped += unmatched_ports(spec, descriptor)
    return Mapping(result, unmapped)


def apply_status(meta: dict, descriptor: dict, unmapped: list[str]) -> None:
    status = descriptor.get("status")
    if status in STATUS_IN:
        meta["status"] = STATUS_IN[status]
    else:
        unmapped.append("status")


def apply_description(spec: dict, description, unmapped: list[str]) -> None:
    if not isinstance(description, dict):
        return
    for key, target in (("purpose", "summary"), ("usage", "vision")):
        if isinstance(description.get(key), str):
            spec[target] = description[key]
    unmapped += [f"description.{key}" for key in sorted(description) if key not in {"purpose", "usage"}]


def apply_team(meta: dict, members, unmapped: list[str]) -> None:
    if not isinstance(members, list):
        return
    owners = [m["username"] for m in members if isinstance(m, dict) and m.get("role") == "owner" and m.get("username")]
    stewards = [m.get("username") for m in members if isinstance(m, dict) and m.get("role") == "data steward"]
    if len(owners) == 1:
        meta["owner"] = owners[0]
    elif owners:
        unmapped.append("team (more than one owner)")
    meta["stewards"] = sorted(name for name in stewards if name)
    for index, member in enumerate(members):
        if not isinstance(member, dict) or member.get("role") not in {"owner", "data steward"}:
            unmapped.append(f"team[{index}]")


def unmatched_ports(spec: dict, descriptor: dict) -> list[str]:
    names = {output["name"] for output in spec.get("outputs", [])}
    ports = descriptor.get("outputPorts") or []
    unmapped = [f"outputPorts[{i}]" for i, port in enumerate(ports) if not isinstance(port, dict)]
    unmapped += [
        f"outputPorts[{i}] ({port.get('name')!r}: no output of that name)"
        for i, port in enumerate(ports)
        if isinstance(port, dict) and port.get("name") not in names
    ]
    inputs = {item.get("output") for item in spec.get("inputs", [])}
    in_ports = descriptor.get("inputPorts") or []
    return unmapped + [
        f"inputPorts[{i}] ({port.get('name')!r}: not an input of this product)"
        for i, port in enumerate(in_ports)
        if not isinstance(port, dict) or port.get("name") not in inputs
    ]


def check_header(document, kind: str, versions: tuple[str, ...]) -> None:
    if not isinstance(document, dict):
        raise StandardError("(document)", "expected a mapping at the top level")
    if document.get("kind") != kind:
        raise StandardError("kind", f"expected {kind!r}, got {document.get('kind')!r}")
    if document.get("apiVersion") not in versions:
        raise StandardError("apiVersion", f"expected one of {', '.join(versions)}, got {document.get('apiVersion')!r}")
    if not isinstance(document.get("id"), str) or not document["id"]:
        raise StandardError("id", "required")
