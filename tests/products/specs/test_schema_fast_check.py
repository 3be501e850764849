"""The fast schema check (fastjsonschema) lets through exactly what the full validator (jsonschema) accepts.

A document it passes is never shown to the full validator, so the two must agree on every
document; this property test mutates real example specs (a value replaced by one of another
kind, a key removed, an unknown key added) and compares their verdicts.
"""

from pathlib import Path

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from products.specs import loader

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "docs" / "examples").glob("*.yaml"))
DOCUMENTS = [loader.load_file(path)[0].data for path in EXAMPLES]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.decimals(-2, 2, places=2),
    st.sampled_from(["", "x", "2024-02-30", "2024-02-03", "daily", "high", "north_star", "pii", "a/b", "Bad Slug"]),
    st.lists(st.sampled_from(["x", "alice"]), max_size=2),
    st.just({}),
)


def paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, each in value.items():
            yield from paths(each, (*path, key))
    elif isinstance(value, list):
        for index, each in enumerate(value):
            yield from paths(each, (*path, index))


def mutated(document: dict, path: tuple, how: str, value) -> dict:
    import copy

    result = copy.deepcopy(document)
    parent = result
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "remove":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last]["unknown_key"] = value
    return result


def full_verdict(data: dict) -> bool:
    return not any(True for _ in loader.validator().iter_errors(data))


def fast_verdict(data: dict) -> bool:
    try:
        loader.fast_check()(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@pytest.mark.parametrize("document", DOCUMENTS, ids=[path.stem for path in EXAMPLES])
def test_both_accept_the_examples(document):
    assert fast_verdict(document) and full_verdict(document)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.data())
def test_both_give_the_same_verdict_on_mutated_specs(data):
    document = data.draw(st.sampled_from(DOCUMENTS))
    path = data.draw(st.sampled_from([each for each in paths(document) if each]))
    how = data.draw(st.sampled_from(["replace", "remove", "add"]))
    changed = mutated(document, path, how, data.draw(VALUES))
    assert fast_verdict(changed) == full_verdict(changed)
