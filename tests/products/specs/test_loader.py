"""Reading spec documents: safe YAML only, every error at once, each at file:line:column and its path."""

import pytest

from products.specs import loader
from products.specs.loader import SpecErrors

HEADER = "apiVersion: lodestar/v1\nkind: DataProduct\n"
GOOD = HEADER + "metadata:\n  slug: orders\n  name: Orders\n  domain: sales\n  owner: alice\nspec: {}\n"


def errors_of(text, source="orders.yaml") -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        loader.load(text, source)
    return [str(error) for error in caught.value.errors]


def test_a_good_document_loads_with_where_each_value_stands():
    (document,) = loader.load(GOOD, "orders.yaml")
    assert document.data["metadata"]["slug"] == "orders"
    assert document.slug == "orders"
    assert document.locate(("metadata", "owner")) == (7, 10)
    assert document.locate(("metadata", "owner", "nothing", 3)) == (7, 10)


def test_a_syntax_error_names_the_file_line_and_column():
    text = HEADER + "metadata:\n  slug: [orders\n  name: Orders\n"
    (error,) = errors_of(text)
    assert error.startswith("orders.yaml:5:")
    assert "(document)" in error and "expected ',' or ']'" in error


def test_schema_violations_name_every_path_at_once():
    text = GOOD.replace("spec: {}", "spec:\n  goals:\n  - title: A\n  - title: B\n  - title: C\n    target: lots\n")
    text = text.replace("  name: Orders\n", "  name: Orders\n  colour: red\n")
    text += "  kpis:\n  - level: l1\n"
    assert errors_of(text) == [
        "orders.yaml:6:11: metadata.colour: unknown field",
        "orders.yaml:14:13: spec.goals[2].target: expected a number",
        "orders.yaml:17:5: spec.kpis[0].name: required",
    ]


def test_enums_lengths_and_dates_are_checked_by_the_schema():
    text = GOOD.replace("spec: {}", "spec:\n  goals:\n  - {title: A, target_date: 2026-13-45}\n")
    text = text.replace("  owner: alice\n", f"  owner: alice\n  status: live\n  version: '{'1' * 60}'\n")
    assert errors_of(text) == [
        "orders.yaml:8:11: metadata.status: expected one of: 'draft', 'published', 'deprecated', 'retired'",
        "orders.yaml:9:12: metadata.version: at most 50 characters",
        "orders.yaml:12:29: spec.goals[0].target_date: expected a date, YYYY-MM-DD",
    ]


def test_an_unknown_api_version_or_kind_is_refused_clearly():
    text = GOOD.replace("lodestar/v1", "lodestar/v9").replace("kind: DataProduct", "kind: Dashboard")
    assert errors_of(text) == [
        "orders.yaml:1:13: apiVersion: unknown apiVersion 'lodestar/v9'; expected lodestar/v1",
        "orders.yaml:2:7: kind: unknown kind 'Dashboard'; expected DataProduct",
    ]


def test_a_document_that_is_not_a_mapping_is_refused():
    assert errors_of("- just\n- a list\n") == [
        "orders.yaml:1:1: (document): a spec is a mapping with apiVersion, kind, metadata and spec"
    ]
    assert errors_of("") == ["orders.yaml:1:1: (document): no spec document found"]


def test_duplicate_keys_are_refused_with_both_lines():
    text = GOOD.replace("  owner: alice\n", "  owner: alice\n  name: Orders again\n")
    assert errors_of(text) == ["orders.yaml:8:3: metadata.name: duplicate key 'name' (first given on line 5)"]


def test_billion_laughs_is_refused_at_the_first_anchor():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(8)]
    assert errors_of("\n".join(lines)) == ["orders.yaml:1:4: (document): anchors (&name) are not allowed in a spec"]


def test_an_alias_without_an_anchor_is_refused_too():
    assert errors_of("a: *nothing\n") == ["orders.yaml:1:4: (document): aliases (*name) are not allowed in a spec"]


def test_deep_nesting_is_refused_before_python_recurses():
    (error,) = errors_of("a: " + "[" * 100_000)
    assert error == f"orders.yaml:1:{3 + loader.MAX_DEPTH}: (document): nested deeper than {loader.MAX_DEPTH} levels"


def test_a_document_over_10_mb_is_refused_unread():
    text = GOOD + "# " + "x" * (10 * 1024 * 1024)
    assert errors_of(text) == ["orders.yaml:1:1: (document): larger than 10 MB"]


def test_python_tags_and_other_custom_tags_are_refused():
    text = GOOD.replace(
        "spec: {}", "spec:\n  summary: !!python/object/apply:os.system ['echo hi']\n  vision: !!binary aGk=\n"
    )
    assert errors_of(text) == [
        "orders.yaml:9:12: spec.summary: the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed "
        "in a spec",
        "orders.yaml:10:11: spec.vision: the tag 'tag:yaml.org,2002:binary' is not allowed in a spec",
    ]


def test_numbers_load_exactly_and_infinity_is_refused():
    text = GOOD.replace(
        "spec: {}", "spec:\n  goals:\n  - {title: A, target: 12345678901234.1234}\n  - {title: B, target: .inf}\n"
    )
    assert errors_of(text) == ["orders.yaml:11:24: spec.goals[1].target: '.inf' is not a plain finite number"]
    (document,) = loader.load(text.replace(".inf", "2"))
    assert str(document.data["spec"]["goals"][0]["target"]) == "12345678901234.1234"


def test_text_that_is_not_utf8_is_refused():
    assert errors_of(GOOD.encode() + b"# \xff\n") == ["orders.yaml:9:1: (document): not UTF-8 text"]


def test_an_input_names_exactly_one_source():
    text = GOOD.replace("spec: {}", "spec:\n  inputs:\n  - {output: a/b, external: CRM}\n  - {description: x}\n")
    assert errors_of(text) == [
        "orders.yaml:10:5: spec.inputs[0]: give exactly one of: output, external",
        "orders.yaml:11:5: spec.inputs[1]: give exactly one of: output, external",
    ]


def test_several_documents_in_one_file_load_together():
    documents = loader.load(GOOD + "---\n" + GOOD.replace("slug: orders", "slug: returns"), "two.yaml")
    assert [document.slug for document in documents] == ["orders", "returns"]
